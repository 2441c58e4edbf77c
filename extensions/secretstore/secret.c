/* secret.c — the checks of extensions/clib/secret.c (see secret.h there). */
#include "../clib/secret.c"
