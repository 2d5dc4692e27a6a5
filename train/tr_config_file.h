/* --config FILE: a JSON object, or TOML-style lines (a subset: top-level
 * `key = value`, strings in double or single quotes on one line (the
 * escapes \" \\ \n \t \r \b \f; any other is refused), integers, reals,
 * true/false, one-line lists [...]; '#' comments; no tables; no NUL byte), read into one
 * JSON object so that tr_settings.c judges the keys and values once. */
#ifndef INGOT_TR_CONFIG_FILE_H
#define INGOT_TR_CONFIG_FILE_H

#include <jansson.h>

/* Read path into a new JSON object (*out, the caller's reference). A file
 * whose first non-blank character is '{' is JSON, anything else TOML.
 * With lines, *lines is a new object (the caller's) of each key, as
 * written, to the line it stands on, so that a value refused later can be
 * named by its line. Messages name the file as origin ("--config F", or
 * the path alone for a file the command line did not name: F:LINE
 * follows), and what is the file's role where it cannot be read.
 * INGOT_E_USAGE naming the file and line of a syntax error, a TOML key
 * given twice or a table, and for a file that sets nothing (empty, only
 * comments, {}); -errno when it cannot be read. */
int tr_config_file_read(const char *path, const char *origin, const char *what, json_t **out,
                        json_t **lines);

#endif
