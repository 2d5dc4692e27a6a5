/* `--version` text (ingot_version.h). The revision comes from meson's
 * vcs_tag() into ingot_revision.h, regenerated at every build. */
#include <jansson.h>
#include <xxhash.h>

#include "ingot_revision.h"
#include "ingot_version.h"

const char *ingot_version(void)
{
    return INGOT_VERSION " (git " INGOT_REVISION ")";
}

void ingot_version_print(FILE *f, const char *prog, const char *const *libs)
{
    fprintf(f, "%s %s\n", prog, ingot_version());
    fprintf(f, "  jansson %s\n", JANSSON_VERSION);
    fprintf(f, "  xxhash %d.%d.%d\n", XXH_VERSION_MAJOR, XXH_VERSION_MINOR, XXH_VERSION_RELEASE);
    for (; libs && *libs; libs++)
        fprintf(f, "  %s\n", *libs);
}
