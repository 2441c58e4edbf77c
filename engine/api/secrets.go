package api

import "fmt"

// Info describes a stored secret without its value: Get-SecretInfo's
// SecretInformation.
type Info struct {
	Name     string
	Type     Type
	Vault    string
	Metadata Metadata
}

// Secret is a secret with its value, as Get returns it. Value is one of the
// five Go types listed at Type.
type Secret struct {
	Info
	Value any
}

// Action describes a change the engine makes or, with WhatIf, would make.
type Action struct {
	Op      Op // OpSet, OpSetInfo, OpRemove; the CLI's OpRegister, OpUnregister, OpSetDefault
	Vault   string
	Secret  string
	Replace bool // set: an existing secret is overwritten; register: an existing registration
	// Import: the secrets of the batch to write, and how many of them
	// replace a stored secret.
	Count, Replaced int
}

func (a Action) String() string {
	switch a.Op {
	case OpSet:
		if a.Replace {
			return fmt.Sprintf("replace secret %q in vault %s", a.Secret, a.Vault)
		}
		return fmt.Sprintf("add secret %q to vault %s", a.Secret, a.Vault)
	case OpImport:
		s := fmt.Sprintf("import %d secrets into vault %s", a.Count, a.Vault)
		if a.Count == 1 {
			s = "import 1 secret into vault " + a.Vault
		}
		if a.Replaced > 0 {
			s += fmt.Sprintf(", replacing %d", a.Replaced)
		}
		return s
	case OpSetInfo:
		return fmt.Sprintf("replace the metadata of secret %q in vault %s", a.Secret, a.Vault)
	case OpRemove:
		return fmt.Sprintf("remove secret %q from vault %s", a.Secret, a.Vault)
	case OpRegister:
		if a.Replace {
			return fmt.Sprintf("replace the registration of vault %s", a.Vault)
		}
		return fmt.Sprintf("register vault %s", a.Vault)
	case OpUnregister:
		return fmt.Sprintf("unregister vault %s", a.Vault)
	case OpSetDefault:
		if a.Vault == "" {
			return "leave no default vault"
		}
		return fmt.Sprintf("make vault %s the default vault", a.Vault)
	}
	return opWords(a.Op, fmt.Sprintf("secret %q in vault %s", a.Secret, a.Vault))
}

// Change holds the options every writing operation shares.
type Change struct {
	// WhatIf reports the Action and changes nothing.
	WhatIf bool
	// Confirm, when set, is asked before anything is written; false cancels
	// the change with an error wrapping ErrDeclined.
	Confirm func(Action) bool
}

// IdentitySecret is the name of the secret, in the default vault, that
// holds the user's age identity (AGE-SECRET-KEY-1…, a string): the private
// key that opens what a team vault wrapped to the user's recipient. The
// engine makes it on first use. Backing up the default vault backs it up;
// losing it loses access to every team vault until a member adds the new
// recipient.
const IdentitySecret = "sesame/identity"
