package engine

import "github.com/sesamehq/sesame/engine/api"

// The secrets, values, vaults and reports of the operations, declared in
// package api (see op.go).
type (
	Info           = api.Info
	Secret         = api.Secret
	Action         = api.Action
	Change         = api.Change
	Registration   = api.Registration
	Grants         = api.Grants
	Unlocked       = api.Unlocked
	StorageOutcome = api.StorageOutcome
	StorageReport  = api.StorageReport
	ImportSecret   = api.ImportSecret
	ImportResult   = api.ImportResult
	Type           = api.Type
	SecureString   = api.SecureString
	Credential     = api.Credential
	Hashtable      = api.Hashtable
	Metadata       = api.Metadata
)

// The five secret types.
const (
	TypeBytes        = api.TypeBytes
	TypeString       = api.TypeString
	TypeSecureString = api.TypeSecureString
	TypeCredential   = api.TypeCredential
	TypeHashtable    = api.TypeHashtable
)

// What Register or Unregister did with a storage area.
const (
	StorageNew        = api.StorageNew
	StorageKept       = api.StorageKept
	StorageReturned   = api.StorageReturned
	StorageHandedOver = api.StorageHandedOver
	StorageRemoved    = api.StorageRemoved
)

// IdentitySecret is the name of the secret, in the default vault, that
// holds the user's age identity (api.IdentitySecret).
const IdentitySecret = api.IdentitySecret
