// Package depcheck holds the tests that keep the module's dependency
// boundaries, in one table (depcheck_test.go): the library packages import
// no cloud SDK, no database driver and no test framework; dependencies
// flow one way (pii <- keyprovider <- envelope <- retention; tokenize and
// mask beside them); no package imports another package's internals; a
// service that opens Vault through keyprovider/kmsuri links neither the
// Google Cloud nor the AWS SDK; and the module's go.mod does not list
// Vault's server module (which only the nested test module
// internal/vaulttest may use). It has no non-test code.
package depcheck
