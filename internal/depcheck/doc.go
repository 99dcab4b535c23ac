// Package depcheck holds the tests that keep the module's dependency
// boundaries, in one table (depcheck_test.go): the library packages import
// no cloud SDK, no database driver and no test framework; dependencies
// flow one way (pii <- keyprovider <- envelope <- retention; tokenize and
// mask beside them); no package imports another package's internals; a
// service that opens Vault through keyprovider/kmsuri links neither the
// Google Cloud nor the AWS SDK; no library package links the
// OpenTelemetry SDK (the API only); and the module's go.mod lists neither
// Vault's server module, nor GORM, nor the OpenTelemetry SDK, which only
// the nested modules internal/vaulttest, gormpii and internal/oteltest
// (the telemetry tests) require. It has no non-test code.
package depcheck
