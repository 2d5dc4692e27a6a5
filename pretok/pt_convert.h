/* `ingot-pretok --model M --out DIR INPUT...`: the conversion, fresh or
 * resumed. */
#ifndef INGOT_PT_CONVERT_H
#define INGOT_PT_CONVERT_H

#include <signal.h>

#include "pt_cli.h"

/* Returns 0, or an error (message recorded): INGOT_E_INTERRUPTED when
 * *interrupt was raised, INGOT_E_INPUT for a bad record under --on-error
 * fail, INGOT_E_NODATA when no document was produced. */
int pt_convert(const struct pt_opts *o, volatile sig_atomic_t *interrupt);

#endif
