// Package stack grows a goroutine's stack to its working size in one step,
// while the goroutine is shallow.
//
// A goroutine starts with a small stack, and the runtime doubles it each
// time a call needs more: a copy of every frame on the stack, each frame's
// pointers adjusted through the function tables. Deep in a call tree that is
// dozens of frames per copy, several copies in a row; at the start of a
// goroutine it is one or two frames, once. A sesame command's main goroutine
// went through those copies in its package inits and its command (perf: 6 %
// of a `get` served by the agent, 4 % of one without it), and so did the
// agent's two goroutines for each connection (7 % of its CPU per request):
// the CPU that a command served by the agent spends before it answers.
//
// Importing the package grows the main goroutine's stack in its init, which
// runs among the first of the program's: it imports nothing, and package
// inits run in the order of their import paths as far as imports allow (The
// Go Programming Language Specification, "Package initialization"). Reserve
// does the same for the goroutine that calls it, first thing.
//
// The stack is not returned until the garbage collector shrinks it, which a
// short command never waits for: Reserve is for goroutines whose calls go
// that deep anyway.
package stack
