// Checks every API response the integration tests recorded against the
// shape Firecracker's swagger declares for its operation (operations.json,
// the schemas beside it). Usage: node check.js RECORDS
// RECORDS: one response a line, "METHOD<TAB>PATH<TAB>STATUS<TAB>BODY_FILE".
// Prints each mismatch (the operation, the request, the schema's complaint)
// and a closing "api schemas: N responses checked, N failed" line; exits 1
// on any mismatch or when nothing was recorded.
'use strict';
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');

const here = __dirname;
const ajv = new Ajv({ allErrors: true, strict: true });
for (const f of fs.readdirSync(here)) {
	if (f.endsWith('.json') && f !== 'operations.json' && !f.startsWith('package'))
		ajv.addSchema(JSON.parse(fs.readFileSync(path.join(here, f), 'utf8')), f);
}
ajv.addSchema({ type: 'object' }, 'any-object');
ajv.addSchema({}, 'any-json');
const ops = JSON.parse(fs.readFileSync(path.join(here, 'operations.json'), 'utf8')).operations;

function segments(p) {
	return p.split('?')[0].split('/').filter((s, i, a) => s !== '' || (i > 0 && i < a.length - 1));
}

function findOp(method, urlPath) {
	const got = segments(urlPath);
	return ops.find((op) => {
		if (op.method !== method) return false;
		const want = segments(op.path);
		return want.length === got.length &&
			want.every((w, i) => (w.startsWith('{') ? got[i] !== '' : w === got[i]));
	});
}

// What the response must be: {schema: name|null, op: id}.
function expected(method, urlPath, status) {
	const op = findOp(method, urlPath);
	if (!op) return { op: '(no such operation)', schema: 'Error.json', status: 400 };
	const r = op.responses;
	if (Object.prototype.hasOwnProperty.call(r, String(status)))
		return { op: op.id, schema: r[String(status)] };
	return { op: op.id, schema: r.default };
}

const file = process.argv[2];
if (!file) {
	console.error('usage: node check.js RECORDS');
	process.exit(2);
}
const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
let failed = 0;
const seen = new Map();
for (const line of lines) {
	const [method, urlPath, statusText, bodyFile] = line.split('\t');
	const status = Number(statusText);
	const body = bodyFile && fs.existsSync(bodyFile) ? fs.readFileSync(bodyFile, 'utf8') : '';
	const e = expected(method, urlPath, status);
	const what = `${e.op}: ${method} ${urlPath} -> ${status}`;
	seen.set(e.op, (seen.get(e.op) || 0) + 1);
	let problem = null;
	if (e.status && status !== e.status) {
		problem = `status ${status} for a path no operation has (want ${e.status})`;
	} else if (e.schema === undefined) {
		problem = `status ${status} is not declared for this operation`;
	} else if (e.schema === null) {
		if (body.length) problem = `a ${status} carries no body, got ${JSON.stringify(body.slice(0, 80))}`;
	} else {
		let json;
		try {
			json = JSON.parse(body);
		} catch (err) {
			problem = `${e.schema}: the body is not JSON: ${JSON.stringify(body.slice(0, 80))}`;
		}
		if (!problem && !ajv.validate(e.schema, json))
			problem = `${e.schema}: ` + ajv.errorsText(ajv.errors, { dataVar: 'body' }) +
				` in ${body.slice(0, 300)}`;
	}
	if (problem) {
		failed++;
		console.log(`MISMATCH ${what}: ${problem}`);
	}
}
const per = [...seen.entries()].sort().map(([k, v]) => `${k} ${v}`).join(', ');
if (lines.length) console.log(`operations seen: ${per}`);
console.log(`api schemas: ${lines.length} responses checked, ${failed} failed`);
process.exit(failed || !lines.length ? 1 : 0);
