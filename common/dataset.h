/* A dataset directory opened for reading: its manifest and every shard it
 * lists, mmapped and cheaply validated (and fully verified on request). The
 * shards are checked against the manifest (size, counts, checksums as
 * recorded). Used by ingot-dump and ingot-train. */
#ifndef INGOT_DATASET_H
#define INGOT_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "shard_reader.h"

struct dataset {
    char *dir;
    struct manifest *manifest;
    shard_reader **shards;      /* same order as manifest->shards */
    size_t n_shards;
};

/* Open dir/manifest.json and every shard. verify=true also recomputes every
 * checksum. Errors name the file and the field. */
int dataset_open(const char *dir, bool verify, struct dataset **out);
void dataset_close(struct dataset *ds);   /* accepts NULL */

#endif
