/* sheet_link.h - links to a Google Sheet's cells, for the records people fix there.
 *
 * A CSV source reading a sheet's export (".../spreadsheets/d/ID/export?format=csv&gid=G", or
 * the gviz/tq form with a gid) knows the sheet: a skipped or failed record's change row then
 * links to the cell that made it so (".../spreadsheets/d/ID/edit#gid=G&range=C17"), so the
 * people who own the sheet fix it in one click. The link keeps the export's scheme, host and
 * port, so a loopback stand-in for Google gets links to itself. A published sheet
 * (".../d/e/2PACX-.../pub") has no editable address: no link. */
#ifndef FERRY_SOURCE_SHEET_LINK_H
#define FERRY_SOURCE_SHEET_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Appends to out the edit address of the sheet tab url exports ("https://docs.google.com/
 * spreadsheets/d/ID/edit#gid=G"; gid 0 when url names none) and returns true; false (out
 * unchanged) when url is no Google Sheets export. url is the expanded export URL. */
bool ferry_sheet_edit_url(const char *url, ferry_buf *out);

/* Appends to out the CSV export of the sheet tab a browser's link names (".../spreadsheets/d/
 * ID/edit#gid=G", "/edit?usp=sharing", or ".../d/ID" alone; gid 0 when it names none):
 * ".../spreadsheets/d/ID/export?format=csv&gid=G", keeping the link's scheme, host and port,
 * and returns true; false (out unchanged) when url is no such link (an export already, a
 * published sheet, another site's path). */
bool ferry_sheet_export_url(const char *url, ferry_buf *out);

/* Appends "&range=C17" to out: column (0 is A, SIZE_MAX for the row's first cell) of row (the
 * sheet's row number: the header is row 1). */
void ferry_sheet_range_append(size_t column, long row, ferry_buf *out);

#endif
