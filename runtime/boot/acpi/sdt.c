/* The common header of every system description table, its checksum and
 * little-endian stores (see sdt.h). */
#include "runtime/boot/acpi/sdt.h"

#include <string.h>

#include "runtime/boot/acpi/acpi.h"

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

void acpi_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void acpi_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void acpi_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void acpi_sdt_header(uint8_t *buf, const char sig[4], uint32_t len, uint8_t revision)
{
	memset(buf, 0, ACPI_SDT_HEADER_SIZE);
	memcpy(buf, sig, 4);
	acpi_put32(buf + 4, len);
	buf[8] = revision;
	memcpy(buf + 10, ACPI_OEM_ID, 6);
	memcpy(buf + 16, ACPI_OEM_TABLE_ID, 8);
	acpi_put32(buf + 24, ACPI_OEM_REVISION);
	memcpy(buf + 28, ACPI_CREATOR_ID, 4);
	acpi_put32(buf + 32, ACPI_CREATOR_REVISION);
}

void acpi_sdt_finish(uint8_t *buf, size_t len)
{
	buf[9] = 0;
	buf[9] = acpi_checksum(buf, len);
}
