// Package abi holds the sesame extension ABI, version 1: the names of the
// guest exports and host imports, the status codes, the secret data model
// shared by host and guest, and its binary encodings.
//
// SPEC.md beside this file is the normative text; this package is its Go
// form. It uses the standard library only and avoids fmt and encoding/json,
// so that it builds small for wasip1 guests as well as for the host.
//
// Decoders are strict: they reject trailing bytes, impossible lengths,
// invalid UTF-8, unknown type bytes and unsorted keys, so that every value has
// exactly one encoding. The vectors in package abi/vectors pin that behaviour for
// implementations in other languages.
package abi
