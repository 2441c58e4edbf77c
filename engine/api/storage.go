package api

import "fmt"

// StorageOutcome names what Register or Unregister did with a vault's
// storage area.
type StorageOutcome int

const (
	StorageNew        StorageOutcome = iota + 1 // register: a new, empty area
	StorageKept                                 // register: the area of the replaced registration, same extension; unregister: left on disk
	StorageReturned                             // register: the area this name had with this extension before, kept since
	StorageHandedOver                           // register: KeepStorage moved the area of From to this extension
	StorageRemoved                              // unregister: deleted (RemoveStorage)
)

// StorageReport says what Register or Unregister did with a vault's storage
// area, for the caller to tell the user.
type StorageReport struct {
	Op        Op // OpRegister or OpUnregister
	Vault     string
	Extension string // the extension whose area Path is
	Outcome   StorageOutcome
	Path      string // the file of the area; "" when the vault has none (no storage grant)

	From string // StorageHandedOver: the extension that had the area ("" = an earlier sesame release)

	// Left is the area of the registration Register replaced with another
	// extension, LeftBy, left on disk as it is.
	Left, LeftBy string
}

// String is the report as one sentence, naming the files.
func (r StorageReport) String() string {
	var s string
	switch r.Outcome {
	case StorageNew:
		s = fmt.Sprintf("vault %s has a new storage area, %s", r.Vault, r.Path)
	case StorageKept:
		s = fmt.Sprintf("vault %s keeps its storage area, %s", r.Vault, r.Path)
		if r.Op == OpUnregister {
			s = fmt.Sprintf("the storage of vault %s is kept in %s; registering %s with %s again uses it", r.Vault, r.Path, r.Vault, r.Extension)
		}
	case StorageReturned:
		s = fmt.Sprintf("vault %s gets back the storage it had with %s, %s", r.Vault, r.Extension, r.Path)
	case StorageHandedOver:
		from := r.From
		if from == "" {
			from = "an earlier sesame release"
		}
		s = fmt.Sprintf("vault %s: the storage of %s is handed to %s, which can read all it holds: %s", r.Vault, from, r.Extension, r.Path)
	case StorageRemoved:
		s = fmt.Sprintf("removed the storage of vault %s, %s", r.Vault, r.Path)
	default:
		s = fmt.Sprintf("vault %s has no storage area", r.Vault)
	}
	if r.Left != "" {
		s += fmt.Sprintf("; the storage of %s stays in %s (registering %s with %s again uses it)", r.LeftBy, r.Left, r.Vault, r.LeftBy)
	}
	return s
}

// Notable reports whether the user should hear of r: anything but a new
// area, or the same one kept, with nothing left aside.
func (r StorageReport) Notable() bool {
	routine := r.Op == OpRegister && (r.Outcome == StorageNew || r.Outcome == StorageKept || r.Outcome == 0)
	return !routine || r.Left != ""
}
