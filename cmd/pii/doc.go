// Command pii is the operators' tool of github.com/fieldguard/pii: the data
// inventory read from source, a scanner for identifiers in text, key
// management on the key URIs the library takes, and what a guard.Guard does
// to a program's tables (verify, erasure and access requests, retention
// sweeps, key rotation, breach reports, the plaintext-column migration),
// from a shell or CI instead of the program.
//
//	go install github.com/fieldguard/pii/cmd/pii@latest
//
//	pii inventory ./...                         what personal data the code holds (Markdown)
//	pii inventory --format html -o inv.html ./... one page: diagram, sortable table, warnings
//	pii scan --channel public_social replies/*.txt  identifiers a channel must not carry
//	pii keys list --kms local://keyset.json     key-encryption-key versions
//	pii rewrap --kms URI --db DSN               rewrap every KMS-wrapped key under the primary
//	pii rotate --pkg ./internal/store --disable-old  the whole rotation, resumable
//	pii verify --pkg ./internal/store           every sealed value opens, every token reverses
//	pii forget --pkg ./... --tenant T --subject S   an erasure request
//	pii export --pkg ./... --tenant T --subject S --viewer ME -o sar.json  an access request
//	pii sweep --pkg ./... --dry-run             the retention sweep
//	pii breach-report --pkg ./... --kms-version V   what a compromised key exposes
//	pii migrate --pkg ./... --table customers   seal plaintext columns in place, resumable
//
// Run "pii help" or "pii COMMAND --help" for every command and flag.
//
// # Configuration
//
// Every flag can also be set in the environment: --kms as PII_KMS, --db as
// PII_DB, and any other flag --some-flag as PII_SOME_FLAG. A flag given on
// the command line wins. The local keyset's master key is read from
// PII_MASTER_KEY (base64), never from a flag, so it stays out of shell
// history and process listings.
//
// Key URIs (--kms) are those of keyprovider/kmsuri, as examples/keyrotation
// takes them: local://PATH, gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K,
// vault://HOST/MOUNT/keys/NAME (token in VAULT_TOKEN), aws-kms://ARN.
// Databases (--db) are sqlite:PATH or a postgres:// URL.
//
// # The program's tables
//
// The commands that work on tables (verify, forget, export, sweep, rotate,
// breach-report, migrate) open a guard.Guard on --db (tables PREFIX+keys,
// ..., --prefix, default pii_) and need the program's Go types, which a
// command cannot import. They read them from source instead, as inventory
// does: --pkg names the packages, and the tables are those the program
// registers with guard.NewTable[T](g, &guard.TableOptions{Table: "..."})
// where the options are constants, or those --table NAME=TYPE names. Each
// type is rebuilt at run time with reflect.StructOf (same fields, tags and
// kinds; internal/srcschema.Rebuild) and registered with pii.Register under
// the name the program gives it (its own pii.Register call, else the Go
// name), so associated data, tokens and blind indexes match what the program
// wrote; the command checks that the rebuilt schema equals the source's and
// that the table has the mapped columns, and refuses types whose methods
// matter (a driver.Valuer column with a pii tag). forget and sweep refuse
// when the source registers stores they cannot read (Guard.Register, or
// NewTable options that are not constants) or tables --table leaves out,
// since they would erase without checking those stores' holds and min=;
// --partial overrides.
//
// # Output
//
// Results go to standard output, errors to standard error as one line
// starting with "pii: ". --json makes every command print JSON instead of
// text. Progress bars are drawn only when standard error is a terminal.
//
// # Exit codes
//
//	0  success
//	1  the operation failed (I/O, database, key service)
//	2  usage: unknown command or flag, malformed argument, DSN or key URI, unknown table or key version
//	3  findings: scan found identifiers the channel must not carry; inventory found malformed tags
//	4  access: a wrong master key, or the key service refused (authentication, permission)
//	130 interrupted (SIGINT or SIGTERM); run the same command again to resume where it stopped
//
// # Security
//
// Nothing this command prints holds a key, a master key, a token or a
// scanned value: scan reports kinds and positions, never the text it found.
package main
