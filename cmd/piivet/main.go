// Command piivet checks the `pii` struct tags of github.com/fieldguard/pii
// at build time and finds personal data printed or logged without
// redaction; see package github.com/fieldguard/pii/piivet.
//
//	go install github.com/fieldguard/pii/cmd/piivet@latest
//	piivet ./...                               on its own
//	go vet -vettool=$(which piivet) ./...      through go vet
package main

import (
	"golang.org/x/tools/go/analysis/singlechecker"

	"github.com/fieldguard/pii/piivet"
)

func main() { singlechecker.Main(piivet.Analyzer) }
