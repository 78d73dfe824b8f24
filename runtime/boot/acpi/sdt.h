/* The common header of every system description table (ACPI 6.3, 5.2.6)
 * and the OEM fields Ember writes in all of them. Internal to
 * runtime/boot/acpi/. */
#ifndef EMBER_BOOT_ACPI_SDT_H
#define EMBER_BOOT_ACPI_SDT_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_SDT_HEADER_SIZE 36
#define ACPI_OEM_ID "EMBER "       /* 6 bytes */
#define ACPI_OEM_TABLE_ID "EMBERVM " /* 8 bytes */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "EMBR"
#define ACPI_CREATOR_REVISION 1

/* Writes the header at buf (checksum 0). */
void acpi_sdt_header(uint8_t *buf, const char sig[4], uint32_t len, uint8_t revision);
/* Sets the checksum (byte 9) over len bytes. */
void acpi_sdt_finish(uint8_t *buf, size_t len);
void acpi_put16(uint8_t *p, uint16_t v);
void acpi_put32(uint8_t *p, uint32_t v);
void acpi_put64(uint8_t *p, uint64_t v);

#endif
