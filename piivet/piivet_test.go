package piivet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/fieldguard/pii/piivet"
)

func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), piivet.Analyzer, "a", "b")
}
