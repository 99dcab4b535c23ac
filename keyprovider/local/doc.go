// Package local is the embedded key-encryption-key backend: a Tink keyset of
// AES-256-GCM KEK versions kept in one file on disk, itself encrypted under a
// master key.
//
//	master, err := local.MasterKeyFromEnv("PII_MASTER_KEY")
//	...
//	kp, err := local.Open("/var/lib/myapp/keyset.json", master)
//	...
//	wrapped, kek, err := kp.Wrap(ctx, dataKey, associatedData)
//
// [Create] makes a new keyset file with one primary version and refuses to
// overwrite an existing file; [Open] loads one. A [*Provider] implements
// keyprovider.KeyProvider, keyprovider.Rotator, keyprovider.Rewrapper and
// keyprovider.Describer, and passes keyprovider/providertest. It is safe for
// concurrent use. Hand it to envelope.New (or tokenize.NewFromProvider),
// which puts it behind a keyprovider.Client like any backend. Importing
// this package also registers the key URI scheme local:// with
// keyprovider/kmsuri (master key from PII_MASTER_KEY by default).
//
// # Configuration
//
// The master key is 32 random bytes. Make one with [GenerateMasterKey] and
// keep it outside the keyset file's directory and outside source control:
//
//   - in an environment variable, base64 (standard encoding):
//     read it with [MasterKeyFromEnv] ("PII_MASTER_KEY" by convention);
//     generate one with
//     `head -c 32 /dev/urandom | base64`.
//   - in a key file holding the base64 text (or the 32 raw bytes): read it
//     with [MasterKeyFromFile]. The file must not be accessible by group or
//     others; a file with any of the mode bits 0o077 set is refused with an
//     error that says so and how to fix it (`chmod 600 <file>`).
//     [WriteMasterKeyFile] writes a new one with mode 0600.
//
// The keyset file itself is written with mode 0600. It holds, in JSON, a
// clear header (format, keyset name, generation counter, the creation and
// destruction times of every version) and the Tink keyset encrypted with
// AES-256-GCM under a key derived from the master key (HKDF-SHA256). The
// header is the associated data of that encryption, so editing it makes the
// file fail to open.
//
// # Key rotation
//
// Versions are identified by their Tink key id, reported as KeyID.Version
// (KeyID.Key is the keyset's random name, "local/<hex>"). The safe order,
// which keyprovider.Rotator's Rotate shortens into one step for a single
// process:
//
//  1. [Provider.AddVersion]: the new version can unwrap but is not used to wrap.
//  2. Every process using the file calls [Provider.Reload] (or re-Opens the
//     file), so all of them can unwrap keys wrapped under the new version.
//  3. [Provider.Promote]: new wraps use the new version.
//  4. Rewrap every stored data key (envelope's rewrap, or [Provider.Rewrap]).
//  5. [Provider.Disable] the old version: unwrapping under it now fails with
//     keyprovider.ErrKeyDisabled, which finds stragglers without losing data;
//     [Provider.Enable] undoes it.
//  6. [Provider.Destroy] the old version: its key material is deleted from the
//     file for good; unwrapping under it fails with keyprovider.ErrKeyDestroyed.
//
// The primary version cannot be disabled or destroyed, and the last enabled
// version cannot be destroyed. [Provider.Versions] lists every version with
// its status, primary flag and creation time.
//
// A Provider reads the file once. Changes made by another process (or another
// Provider on the same file) become visible after [Provider.Reload] or a new
// [Open]. Every change is written as a whole new file: a temporary file in
// the same directory is written, fsynced, renamed over the keyset and the
// directory fsynced, so a crash at any moment leaves the old keyset or the
// new one, never a torn file (an orphaned ".tmp" file may remain beside it
// and can be deleted). A change fails with an error if the file was changed
// by someone else since this Provider last read it; Reload and retry. Run
// key management from one process at a time.
//
// # Security model
//
// The keyset is as safe as the master key: anyone who reads both the file
// and the master key can unwrap every data key. The master key is never
// written to the keyset file, never kept in the Provider (only the AES key
// derived from it, inside the standard library's GCM), and Create and Open do
// not retain the caller's slice; clear it after use. Go cannot promise that
// key bytes are erased from memory.
//
// Wrap binds the associated data: a wrapped key only unwraps with the same
// bytes. The wrapped form is Tink's: a 5-byte prefix (0x01 and the 4-byte
// version id), a 12-byte random nonce, the encrypted key and a 16-byte tag.
// AES-GCM with random nonces allows about 2^32 wraps per version; rotate well
// before that. AES is constant-time only on CPUs with AES instructions.
//
// A Provider and this package's errors never print key bytes: fmt, slog and
// encoding/json show a Provider as its path, keyset name and primary version.
//
// # Backwards compatibility
//
// The keyset file carries its format ("fieldguard.pii/local-keyset/v1");
// an unknown format is refused, never guessed. The wrapped form is Tink's
// standard AEAD output, readable by any Tink implementation holding the
// keyset. A keyset file and wrapped keys made by this version are frozen in
// testdata and must keep opening.
//
// # Errors
//
// Wrap, Unwrap, Rewrap and the key-management methods return errors carrying
// a keyprovider class:
//
//   - keyprovider.ErrAuthentication: the wrapped key was tampered with, is
//     malformed, or the associated data differs.
//   - keyprovider.ErrKeyNotFound: the wrapped key names a version this keyset
//     never had (wrapped by another keyset, or a tampered prefix), or a
//     management call named an unknown version.
//   - keyprovider.ErrKeyDisabled / keyprovider.ErrKeyDestroyed: the version
//     that wrapped the key is disabled / destroyed.
//   - keyprovider.ErrInvalidArgument: a refused management call (disabling the
//     primary, destroying the last enabled version, ...), or a malformed
//     version id.
//   - keyprovider.ErrUnavailable: the keyset file could not be read or written.
//   - [ErrStale] (class keyprovider.ErrInvalidArgument): a key-management call
//     found the file changed by someone else since this Provider read it.
//
// Open returns an error matching keyprovider.ErrAuthentication when the
// master key is wrong or the file was modified, and a plain error naming the
// file for a missing or malformed file. A cancelled context returns an error
// matching context.Canceled.
package local
