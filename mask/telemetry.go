package mask

import (
	"context"
	"reflect"
	"sync"

	"github.com/fieldguard/pii/internal/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// What mask reports to OpenTelemetry (see the package doc, # Telemetry):
//
//   - pii.mask.scan.findings: identifiers Scan found, by pii.mask.kind;
//   - pii.mask.channel.refusals: messages Check refused, by
//     pii.mask.channel and pii.mask.kind (one per kind refused);
//   - pii.mask.reveals: audit events of Views.Reveal (reveal,
//     reveal_denied, budget_exceeded) by pii.mask.event, pii.mask.role,
//     pii.mask.channel, pii.type and pii.category, counted once the audit
//     sink took them (a failed sink is error.type audit_failed).
//
// Never a value, a viewer, a record or a field's concrete path.

type instruments struct {
	findings, refusals, reveals metric.Int64Counter
	byKind                      sync.Map // Kind -> metric.AddOption
}

func newInstruments(mp metric.MeterProvider) *instruments {
	m := telemetry.Meter(mp, "mask")
	return &instruments{
		findings: telemetry.Counter(m, "pii.mask.scan.findings", "Identifiers found in free text, by kind.", "{finding}"),
		refusals: telemetry.Counter(m, "pii.mask.channel.refusals", "Messages refused for a channel, per kind of identifier refused.", "{refusal}"),
		reveals:  telemetry.Counter(m, "pii.mask.reveals", "Audited reveal attempts, by event, role, channel, type and category.", "{event}"),
	}
}

var (
	globalInstruments = sync.OnceValue(func() *instruments { return newInstruments(nil) })
	providers         sync.Map // metric.MeterProvider -> *instruments
)

// instrumentsFor returns the instruments of mp (nil: the global
// provider), made once per provider.
func instrumentsFor(mp metric.MeterProvider) *instruments {
	if mp == nil {
		return globalInstruments()
	}
	if !reflect.TypeOf(mp).Comparable() {
		return newInstruments(mp)
	}
	if v, ok := providers.Load(mp); ok {
		return v.(*instruments)
	}
	v, _ := providers.LoadOrStore(mp, newInstruments(mp))
	return v.(*instruments)
}

func (in *instruments) kindOption(k Kind) metric.AddOption {
	if v, ok := in.byKind.Load(k); ok {
		return v.(metric.AddOption)
	}
	v, _ := in.byKind.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(telemetry.Kind.String(string(k)))))
	return v.(metric.AddOption)
}

// countFindings counts fs by kind and returns it.
func countFindings(mp metric.MeterProvider, fs []Finding) []Finding {
	if len(fs) == 0 {
		return fs
	}
	in := instrumentsFor(mp)
	var kinds [8]Kind
	var counts [8]int64
	n := 0
	for _, f := range fs {
		i := 0
		for i < n && kinds[i] != f.Kind {
			i++
		}
		if i == n {
			if n == len(kinds) {
				in.findings.Add(context.Background(), 1, in.kindOption(f.Kind))
				continue
			}
			kinds[n], n = f.Kind, n+1
		}
		counts[i]++
	}
	for i := range n {
		in.findings.Add(context.Background(), counts[i], in.kindOption(kinds[i]))
	}
	return fs
}

// countRefusal counts a refused message and returns err.
func countRefusal(opts *ScanOptions, err *ChannelError) error {
	var mp metric.MeterProvider
	if opts != nil {
		mp = opts.MeterProvider
	}
	in := instrumentsFor(mp)
	for _, k := range err.Kinds {
		in.refusals.Add(context.Background(), 1, metric.WithAttributes(
			telemetry.Channel.String(string(err.Channel)), telemetry.Kind.String(string(k))))
	}
	return err
}

// countingAudit returns sink preceded by the count of each event it
// accepts.
func countingAudit(sink AuditSink, mp metric.MeterProvider) AuditSink {
	in := instrumentsFor(mp)
	return auditFunc(func(ctx context.Context, ev AuditEvent) error {
		err := sink.Audit(ctx, ev)
		attrs := []attribute.KeyValue{
			telemetry.Event.String(string(ev.Kind)), telemetry.Role.String(ev.Role), telemetry.Channel.String(string(ev.Channel)),
			telemetry.Type.String(ev.Type), telemetry.Category.String(ev.Category),
		}
		if err != nil {
			attrs = append(attrs, telemetry.ErrorType.String("audit_failed"))
		}
		in.reveals.Add(ctx, 1, metric.WithAttributes(attrs...))
		return err
	})
}
