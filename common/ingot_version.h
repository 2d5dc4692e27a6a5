/* `--version` for every program: the release, the git revision it was built
 * from, and the libraries it links (each program names its own). */
#ifndef INGOT_VERSION_H
#define INGOT_VERSION_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0 (git 1a2b3c4)" or "0.1.0 (git unknown)" outside a git checkout. */
const char *ingot_version(void);
/* Print "<prog> <version>" and one line per library ("  zstd 1.5.4"):
 * libs is a NULL-terminated array of already-formatted "name version"
 * strings; the libraries common/ links (jansson, xxhash) are added here. */
void ingot_version_print(FILE *f, const char *prog, const char *const *libs);

#ifdef __cplusplus
}
#endif
#endif
