// Package depcheck holds tests that keep the module's dependency boundary:
// the core packages import no cloud SDK, and the module's go.mod does not
// list Vault's server module (which only the nested test module
// internal/vaulttest may use). It has no non-test code.
package depcheck
