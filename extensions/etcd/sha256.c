/* sha256.c — extensions/clib/sha256.c (see sha256.h there). */
#include "../clib/sha256.c"
