#ifndef INGOT_PT_ALLOC_H
#define INGOT_PT_ALLOC_H

/* The malloc ingot-pretok runs on, for its report ("jemalloc 5.3.0",
 * "glibc malloc"). Compiled into the executable alone, which is the only
 * program linked with jemalloc (see meson_options.txt: allocator). */
const char *pt_alloc_name(void);

#endif
