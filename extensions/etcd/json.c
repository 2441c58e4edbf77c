/* json.c — extensions/clib/json.c (see json.h there). */
#include "../clib/json.c"
