// Package kdbx reads and writes KeePass databases (KDBX 3.1 and 4.x) the
// way KeePassXC does, for the keepass vault.
//
// Decode opens a file with a composite key (CompositeKey: a password, a
// key file, or both); Encode writes it back in the version it was read in,
// never upgraded. The XML document is kept as a tree (Node) with every
// element and attribute it had, so that a write changes only what the
// caller changed: groups, entries, history, attachments, icons, custom data
// and the recycle bin all come back as they were. Protected values are
// plain in the tree and put back under the inner stream on writing.
//
// The cryptography that touches keys goes through Crypto, so that a wasm
// guest can hand it to the host, which keeps the composite, transformed,
// cipher and HMAC keys behind handles; GoCrypto is the same in this
// process. The transformed key is kept between writes and each write has a
// new master seed, IV and inner stream key, so that a write costs no key
// derivation.
//
// Supported: AES-KDF, Argon2d and Argon2id (Argon2 versions 0x10 and
// 0x13); AES-256-CBC and ChaCha20 outer ciphers; gzip or no compression;
// Salsa20 and ChaCha20 inner streams; key files as XML 2.0 (.keyx, with
// its hash check) and 1.0, 32 raw bytes, 64 hex digits, or any file
// (hashed). Not supported, and refused with a FormatError that says so:
// KeePass 1 (.kdb), Twofish, KDBX newer than 4.1, challenge-response
// (YubiKey) keys.
//
// The XML is read by a tokenizer for the part of XML that KeePass writes,
// which takes names and text out of one copy of the document; anything
// else goes to encoding/xml, which reads it to the same tree or says what
// is wrong with it.
//
// Caveats: whitespace between XML elements, comments and processing
// instructions are not kept (the writer indents with tabs, as KeePassXC
// does); a file asking the KDF for more
// than 4 GiB of memory, 65536 Argon2 passes or 2^34 AES rounds is refused
// as hostile.
package kdbx
