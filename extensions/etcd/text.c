/* text.c — the messages of extensions/clib/text.c (see text.h there). */
#include "../clib/text.c"
