/* Opens a shard file read-only through mmap. shard_reader_open() validates
 * cheaply (magic, version, endianness, header checksum, file size against the
 * header, offsets in range, index monotonic and ending at n_tokens);
 * shard_reader_verify() also recomputes the data checksums. Errors name the
 * file (through term_text()) and the field (ingot_errmsg()). */
#ifndef INGOT_SHARD_READER_H
#define INGOT_SHARD_READER_H

#include <stddef.h>
#include <stdint.h>

#include "shard_format.h"

typedef struct shard_reader shard_reader;

/* Returns 0, -errno (cannot open/map), INGOT_E_FORMAT (not a shard),
 * INGOT_E_VERSION, INGOT_E_ENDIAN, INGOT_E_CHECKSUM (header),
 * INGOT_E_TRUNCATED or INGOT_E_CORRUPT. The mapping lives until close. */
int shard_reader_open(const char *path, shard_reader **out);
void shard_reader_close(shard_reader *r);   /* accepts NULL */

/* The checks shard_reader_open() makes of a header, on bytes in memory:
 * buf holds the first len bytes of a file of file_size bytes (len at least
 * the 4096-byte header for a v1 shard). Checks magic, endianness, version,
 * header checksum, every field and the layout against file_size; not the
 * document index, which lies beyond the header. name is used in messages
 * (through term_text()).
 * Returns 0 or the errors of shard_reader_open() but -errno. */
int shard_reader_check_header(const char *name, const void *buf, size_t len, uint64_t file_size);

/* Recompute the tokens, index and provenance checksums and check every id is
 * below vocab_size. Returns 0 or INGOT_E_CHECKSUM / INGOT_E_CORRUPT. */
int shard_reader_verify(const shard_reader *r);

const struct ingot_shard_header *shard_reader_header(const shard_reader *r);
/* The path r was opened with, and the same through term_text() for
 * messages; both owned by r. */
const char *shard_reader_path(const shard_reader *r);
const char *shard_reader_shown(const shard_reader *r);
uint64_t shard_reader_n_tokens(const shard_reader *r);
uint64_t shard_reader_n_docs(const shard_reader *r);

/* Raw token array (token_width bytes per id), valid while r is open. */
const void *shard_reader_tokens(const shard_reader *r);
/* Token i as a 32-bit id (i < n_tokens). */
uint32_t shard_reader_token(const shard_reader *r, uint64_t i);
/* Copy tokens [start, start+n) widened to uint32 into dst. */
void shard_reader_copy_u32(const shard_reader *r, uint64_t start, size_t n, uint32_t *dst);
/* n_docs+1 offsets. */
const uint64_t *shard_reader_doc_index(const shard_reader *r);
/* Provenance of document d (d < n_docs). */
const struct ingot_doc_prov *shard_reader_doc_prov(const shard_reader *r, uint64_t d);
/* Document containing token i (binary search over the index); n_docs when
 * i >= n_tokens. */
uint64_t shard_reader_doc_of_token(const shard_reader *r, uint64_t i);

#endif
