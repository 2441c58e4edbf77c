package abi

// Names of the marker, the import module and the exports of ABI version 1.
const (
	Marker       = "sesame_abi_v1"
	ImportModule = "sesame_v1"
	Version      = 1

	ExportManifest    = "sesame_manifest"
	ExportInit        = "sesame_init"
	ExportGet         = "sesame_get"
	ExportStat        = "sesame_stat"
	ExportSet         = "sesame_set"
	ExportRemove      = "sesame_remove"
	ExportList        = "sesame_list"
	ExportSetMetadata = "sesame_set_metadata"
	ExportUnlock      = "sesame_unlock"
	ExportLock        = "sesame_lock"
	ExportSetPassword = "sesame_set_password"
	ExportTest        = "sesame_test"
	ExportUnregister  = "sesame_unregister"
	ExportCreate      = "sesame_create"  // optional (SPEC.md §4.2)
	ExportMembers     = "sesame_members" // optional (SPEC.md §4.3)
	ExportBatch       = "sesame_batch"   // optional (SPEC.md §5.3, "Batches")
)

// The argument of sesame_batch: whether a batch of calls begins or ends.
const (
	BatchBegin byte = 0 // before the batch's first call
	BatchEnd   byte = 1 // after its last call, before its commit
)

// What a set did: the one byte sesame_set outputs when the manifest
// declares set_reports (SPEC.md §4).
const (
	SetCreated   byte = 0 // no secret had the name
	SetReplaced  byte = 1 // one had, with another value or metadata
	SetUnchanged byte = 2 // one had, with that value (and that metadata, when given): nothing written
)

// Host functions in the ImportModule.
const (
	ImportInput    = "input"
	ImportOutput   = "output"
	ImportError    = "error"
	ImportLog      = "log"
	ImportKVGet    = "kv_get"
	ImportKVSet    = "kv_set"
	ImportKVAdd    = "kv_add"
	ImportKVDelete = "kv_delete"
	ImportKVList   = "kv_list"
	ImportKVScan   = "kv_scan" // an optional addition (SPEC.md §5.3)

	ImportKDF          = "kdf_argon2id"
	ImportKeyringSet   = "keyring_set"
	ImportKeyringGet   = "keyring_get"
	ImportKeyringClear = "keyring_clear"

	// Keys behind handles (SPEC.md §5.8), an optional addition.
	ImportKeyGenerate = "key_generate"
	ImportKeyImport   = "key_import"
	ImportKeyArgon2id = "key_argon2id"
	ImportKeyHKDF     = "key_hkdf"
	ImportKeyWrap     = "key_wrap"
	ImportKeyUnwrap   = "key_unwrap"
	ImportKeySeal     = "key_seal"
	ImportKeyOpen     = "key_open"
	ImportKeyHMAC     = "key_hmac"
	ImportKeyKeep     = "key_keep"
	ImportKeyRelease  = "key_release"

	// The primitives of file formats on keys behind handles (SPEC.md
	// §5.11), an optional addition: what KeePass's KDBX needs.
	ImportKeyHash     = "key_hash"
	ImportKeyAESKDF   = "key_aes_kdf"
	ImportKeyArgon2   = "key_argon2"
	ImportKeyAESCBC   = "key_aes_cbc"
	ImportKeyChaCha20 = "key_chacha20"

	// HTTP (SPEC.md §5.9), an optional addition.
	ImportHTTPRequest  = "http_request"
	ImportHTTPResponse = "http_response"
	ImportHTTPOrigins  = "http_origins"

	// The user's age identity (SPEC.md §5.10, grant identity), an
	// optional addition.
	ImportAgeRecipient = "age_recipient"
	ImportAgeWrap      = "age_wrap"
	ImportAgeUnwrap    = "age_unwrap"

	// Replacing a file of the granted folder only if it is unchanged
	// (SPEC.md §5.4), an optional addition.
	ImportDirReplace = "dir_replace"
)

// MaxDirName is the longest name dir_replace takes, in bytes (SPEC.md §5.4).
const MaxDirName = 4 << 10

// Limits of the age functions (SPEC.md §5.10).
const (
	AgeMaxRecipients = 256      // recipients of one age_wrap
	AgeMaxList       = 64 << 10 // age_wrap's recipient list, in bytes
	AgeMaxFile       = 64 << 10 // age_unwrap's file, in bytes
)

// Sizes of the keys behind handles (SPEC.md §5.8).
const (
	KeyMinBytes   = 16      // a key is 16–64 bytes
	KeyMaxBytes   = 64      //
	KeyAEADBytes  = 32      // the key of key_seal, key_open, key_wrap, key_unwrap
	KeyNonceBytes = 24      // XChaCha20-Poly1305's nonce, first in a sealed box
	KeyTagBytes   = 16      // Poly1305's tag, last in a sealed box
	KeyOverhead   = 24 + 16 // a sealed box is this much longer than its plain text
	KeyHMACBytes  = 32      // HMAC-SHA256
	KeyMaxAD      = 64 << 10
	KeyMaxInfo    = 1 << 10 // key_hkdf's salt and info, each
	KeyHandles    = 64      // live handles per vault
)

// Bounds of the format primitives (SPEC.md §5.11).
const (
	KeyCipherBytes   = 32       // the key of key_aes_kdf, key_aes_cbc, key_chacha20
	KeyAESKDFSeed    = 32       // key_aes_kdf's seed
	KeyAESBlock      = 16       // key_aes_cbc's IV and block
	KeyChaChaNonce   = 12       // key_chacha20's nonce (RFC 8439)
	KeyArgon2MaxTime = 1000     // key_argon2's passes
	KeyArgon2MaxLane = 256      // key_argon2's lanes
	KeyArgon2D       = 0        // key_argon2's variants, as RFC 9106 numbers them
	KeyArgon2ID      = 2        //
	KeyArgon2V10     = 0x10     // key_argon2's versions
	KeyArgon2V13     = 0x13     //
	KeyMaxCipher     = 16 << 20 // key_aes_cbc's and key_chacha20's bytes per call
)

// Op names an operation a vault may support. The string is the one used in
// the manifest's "operations" list.
type Op string

// The operations of ABI version 1 and the exports that carry them.
const (
	OpGet         Op = "get"
	OpStat        Op = "stat"
	OpSet         Op = "set"
	OpRemove      Op = "remove"
	OpList        Op = "list"
	OpSetMetadata Op = "set_metadata"
	OpUnlock      Op = "unlock"
	OpLock        Op = "lock"
	OpSetPassword Op = "set_password"
	OpTest        Op = "test"
	OpUnregister  Op = "unregister" // the hook called before the vault is unregistered
	OpCreate      Op = "create"     // set only when absent, atomically (SPEC.md §4.2)
	OpMembers     Op = "members"    // a shared vault's member list (SPEC.md §4.3)
)

// Ops lists every operation, in a stable order, in a new slice: a caller
// may keep or change it.
func Ops() []Op {
	return []Op{OpGet, OpStat, OpSet, OpRemove, OpList, OpSetMetadata, OpUnlock, OpLock, OpSetPassword, OpTest, OpUnregister, OpCreate, OpMembers}
}

// The argument of sesame_unregister: what becomes of the vault's storage
// area once it is unregistered.
const (
	UnregisterKeepStorage   byte = 0 // it stays on disk: registering the vault again finds it
	UnregisterRemoveStorage byte = 1 // the host deletes it right after
)

// Export returns the name of the guest export that implements op.
func (op Op) Export() string { return "sesame_" + string(op) }

// Grants an extension may ask for in its manifest.
const (
	GrantStorage   = "storage"
	GrantDirectory = "directory"
	GrantEnv       = "env"
	GrantHTTP      = "http"

	GrantIdentity = "identity" // the user's age identity, through the host (§5.10)
)

// Limits of ABI version 1 (SPEC.md §8).
const (
	MaxNameBytes      = 256
	MaxValueBytes     = 1 << 20
	MaxMetadataBytes  = 16 << 10
	MaxMetadataKeys   = 64
	MaxMetaKeyBytes   = 256
	MaxMetaStringLen  = 4 << 10
	MaxHashtableKeys  = 64
	MaxMessageBytes   = 4 << 10
	MaxLogLineBytes   = 8 << 10
	MaxLogLines       = 100
	MaxCallBytes      = 16 << 20
	MaxManifestBytes  = 16 << 10
	MaxStorageKey     = 1 << 10
	MaxStorageValue   = 2 << 20
	StorageListPage   = 256
	StorageScanBytes  = 1 << 20 // the bytes of a kv_scan page, unless its first entry is longer
	DefaultMemory     = 64 << 20
	DefaultInstances  = 4
	DefaultTimeoutSec = 5
)
