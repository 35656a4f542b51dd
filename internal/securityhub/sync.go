package securityhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/iamwarden/iamwarden/internal/rules"
)

// ImportAPI is the part of Security Hub Sync uses; *securityhub.Client implements it.
type ImportAPI interface {
	BatchImportFindings(ctx context.Context, params *securityhub.BatchImportFindingsInput, optFns ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
}

var _ ImportAPI = (*securityhub.Client)(nil)

// BatchImportFindings limits (AWS: 100 findings and 6 MB per call, 240 KB per finding). The
// byte limits are counted on the JSON request body, in decimal units, below the binary ones.
const (
	MaxBatchFindings = 100
	MaxBatchBytes    = 6_000_000
	MaxFindingBytes  = 240_000
)

// batchOverhead is the request body around the findings: {"Findings":[...]}.
const batchOverhead = len(`{"Findings":[]}`)

// ErrTooLarge is the error code of a finding Sync did not send because it exceeds
// MaxFindingBytes.
const ErrTooLarge = "FindingTooLarge"

// SyncReport says what an import did.
type SyncReport struct {
	// UpdatedAt is the UpdatedAt of every finding of the import.
	UpdatedAt time.Time
	// Imported counts the findings Security Hub accepted: Created new ones, Updated ones it
	// held, and Resolved ones archived.
	Imported, Created, Updated, Resolved int
	// Calls counts the BatchImportFindings calls.
	Calls int
	// Failed lists the findings Security Hub refused (FailedFindings) or Sync did not send.
	Failed []FailedFinding
}

// FailedFinding is one finding not imported. ID is the ASFF Id in full: it can hold an access
// key ID, which LogValue masks.
type FailedFinding struct {
	ID, Code, Message string
}

// LogValue writes the report for logs, with access key IDs masked.
func (r SyncReport) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Time("updated_at", r.UpdatedAt),
		slog.Int("imported", r.Imported), slog.Int("created", r.Created),
		slog.Int("updated", r.Updated), slog.Int("resolved", r.Resolved),
		slog.Int("calls", r.Calls), slog.Int("failed", len(r.Failed)),
	}
	if len(r.Failed) > 0 {
		failed := make([]string, len(r.Failed))
		for i, f := range r.Failed {
			failed[i] = DisplayID(f.ID) + " " + f.Code + ": " + f.Message
		}
		attrs = append(attrs, slog.Any("failed_findings", failed))
	}
	return slog.GroupValue(attrs...)
}

// DisplayID is a finding Id for logs and messages: an access key ID in it masked as AKIA…WXYZ.
func DisplayID(id string) string {
	parts := strings.Split(id, "/")
	for i, p := range parts {
		if looksLikeKeyID(p) {
			parts[i] = rules.MaskKeyID(p)
		}
	}
	return strings.Join(parts, "/")
}

// ImportError is a BatchImportFindings call that failed: the calls before it were imported and
// recorded, the rest were not sent.
type ImportError struct {
	Imported, Total int
	Err             error
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("security hub import stopped: %d of %d findings imported before BatchImportFindings failed: %v", e.Imported, e.Total, e.Err)
}

func (e *ImportError) Unwrap() error { return e.Err }

// Sync imports the findings of one account and region into Security Hub with a lifecycle, and
// records in the store what Security Hub accepted:
//
//   - A finding keeps the CreatedAt and FirstObservedAt of its first import; UpdatedAt is now,
//     or one millisecond after the previous import's when the clock did not move past it.
//   - A finding of the previous imports (the state) that fs no longer holds is imported again
//     with Compliance PASSED and RecordState ARCHIVED, then dropped from the state. This runs
//     when fs is empty too. Only the state says what to archive: Security Hub is never read.
//   - Findings go in batches within MaxBatchFindings and MaxBatchBytes. A finding Security Hub
//     refuses is listed in the report and its record stays as it was, so the next run tries it
//     again; a call that fails stops the import with an *ImportError, after recording what the
//     calls before it imported.
//
// Every finding must belong to account (Security Hub takes a provider's findings only from the
// account they concern) and region; fs holding the same Id twice is an error.
func Sync(ctx context.Context, api ImportAPI, store StateStore, account, region string, fs []types.AwsSecurityFinding, now time.Time) (SyncReport, error) {
	if err := checkKey(account, region); err != nil {
		return SyncReport{}, fmt.Errorf("security hub import: %w", err)
	}
	seen := make(map[string]bool, len(fs))
	for i := range fs {
		f := &fs[i]
		id := aws.ToString(f.Id)
		switch {
		case id == "":
			return SyncReport{}, fmt.Errorf("security hub import: finding %d has no Id", i)
		case seen[id]:
			return SyncReport{}, fmt.Errorf("security hub import: finding %s is given twice", DisplayID(id))
		case aws.ToString(f.AwsAccountId) != account:
			return SyncReport{}, fmt.Errorf("security hub import: finding %s is of account %s, not %s: Security Hub takes findings only from their own account", DisplayID(id), aws.ToString(f.AwsAccountId), account)
		case f.Region != nil && *f.Region != region:
			return SyncReport{}, fmt.Errorf("security hub import: finding %s is for region %s, not %s", DisplayID(id), *f.Region, region)
		}
		seen[id] = true
	}

	st, err := store.Load(ctx, account, region)
	if err != nil {
		return SyncReport{}, fmt.Errorf("security hub import: %w", err)
	}
	if st.Findings == nil {
		st.Findings = map[string]Record{}
	}
	st.Account, st.Region = account, region

	at := now.UTC().Truncate(time.Millisecond)
	if !st.LastImport.IsZero() && !at.After(st.LastImport) {
		at = st.LastImport.Add(time.Millisecond)
	}
	rep := SyncReport{UpdatedAt: at}

	// What to send: this scan's findings with their lifecycle times, then the resolutions.
	type item struct {
		finding  types.AwsSecurityFinding
		record   Record
		existing bool
		resolved bool
		body     []byte
	}
	items := make([]item, 0, len(fs))
	for _, f := range fs {
		f := f
		rec, existing := st.Findings[aws.ToString(f.Id)]
		if existing {
			f.CreatedAt = aws.String(FormatTime(rec.CreatedAt))
			if !rec.FirstObservedAt.IsZero() {
				f.FirstObservedAt = aws.String(FormatTime(rec.FirstObservedAt))
			}
		}
		if f.CreatedAt == nil {
			f.CreatedAt = aws.String(FormatTime(at))
		}
		f.UpdatedAt = aws.String(FormatTime(at))
		items = append(items, item{finding: f, record: recordOf(f), existing: existing})
	}
	var gone []string
	for id := range st.Findings {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		items = append(items, item{finding: resolution(id, account, region, st.Findings[id], at), resolved: true})
	}

	// Batches. A finding over the per-finding limit is not sent.
	var batches [][]int
	var cur []int
	size := batchOverhead
	for i := range items {
		items[i].body = encodeFinding(&items[i].finding)
		n := len(items[i].body)
		if n > MaxFindingBytes {
			rep.Failed = append(rep.Failed, FailedFinding{ID: aws.ToString(items[i].finding.Id), Code: ErrTooLarge,
				Message: fmt.Sprintf("the finding is %d bytes, over Security Hub's %d", n, MaxFindingBytes)})
			continue
		}
		sep := 0
		if len(cur) > 0 {
			sep = 1 // the comma
		}
		if len(cur) == MaxBatchFindings || size+sep+n > MaxBatchBytes {
			batches = append(batches, cur)
			cur, size, sep = nil, batchOverhead, 0
		}
		cur = append(cur, i)
		size += sep + n
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}

	accept := func(it item) {
		id := aws.ToString(it.finding.Id)
		rep.Imported++
		switch {
		case it.resolved:
			rep.Resolved++
			delete(st.Findings, id)
		case it.existing:
			rep.Updated++
			st.Findings[id] = it.record
		default:
			rep.Created++
			st.Findings[id] = it.record
		}
		st.LastImport = at
	}
	var callErr error
	for _, b := range batches {
		in := &securityhub.BatchImportFindingsInput{Findings: make([]types.AwsSecurityFinding, len(b))}
		for j, i := range b {
			in.Findings[j] = items[i].finding
		}
		rep.Calls++
		out, err := api.BatchImportFindings(ctx, in)
		if err != nil {
			callErr = &ImportError{Imported: rep.Imported, Total: len(items), Err: err}
			break
		}
		failed := map[string]bool{}
		for _, ff := range out.FailedFindings {
			id := aws.ToString(ff.Id)
			failed[id] = true
			rep.Failed = append(rep.Failed, FailedFinding{ID: id, Code: aws.ToString(ff.ErrorCode), Message: aws.ToString(ff.ErrorMessage)})
		}
		// A refusal that names no finding (or another than those sent) cannot be placed: then
		// nothing of the batch counts as imported, and every finding of it is tried again.
		unplaced := aws.ToInt32(out.FailedCount) > int32(len(out.FailedFindings))
		for id := range failed {
			if !slices.ContainsFunc(b, func(i int) bool { return aws.ToString(items[i].finding.Id) == id }) {
				unplaced = true
			}
		}
		if unplaced {
			for _, i := range b {
				if id := aws.ToString(items[i].finding.Id); !failed[id] {
					rep.Failed = append(rep.Failed, FailedFinding{ID: id, Code: "Unknown",
						Message: fmt.Sprintf("Security Hub refused %d findings of the batch without naming them all", aws.ToInt32(out.FailedCount))})
				}
			}
			continue
		}
		for _, i := range b {
			if !failed[aws.ToString(items[i].finding.Id)] {
				accept(items[i])
			}
		}
	}

	if rep.Imported > 0 {
		if err := store.Save(ctx, st); err != nil {
			err = fmt.Errorf("security hub import: %d findings imported but their state not saved (the next run repeats them with new creation times): %w", rep.Imported, err)
			return rep, errors.Join(callErr, err)
		}
	}
	return rep, callErr
}

// recordOf keeps what the archiving import of f needs.
func recordOf(f types.AwsSecurityFinding) Record {
	rec := Record{
		CreatedAt:       parseTime(f.CreatedAt),
		FirstObservedAt: parseTime(f.FirstObservedAt),
		LastObservedAt:  parseTime(f.LastObservedAt),
		UpdatedAt:       parseTime(f.UpdatedAt),
		ProductArn:      aws.ToString(f.ProductArn),
		GeneratorID:     aws.ToString(f.GeneratorId),
		Rule:            f.ProductFields[FieldRule],
		Title:           aws.ToString(f.Title),
		Types:           slices.Clone(f.Types),
	}
	if f.Severity != nil {
		rec.Severity = string(f.Severity.Label)
	}
	if f.Compliance != nil {
		rec.RelatedRequirements = slices.Clone(f.Compliance.RelatedRequirements)
	}
	for _, r := range f.Resources {
		rec.Resources = append(rec.Resources, Resource{Type: aws.ToString(r.Type), ID: aws.ToString(r.Id),
			Partition: string(r.Partition), Region: aws.ToString(r.Region)})
	}
	return rec
}

func parseTime(s *string) time.Time {
	if s == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// resolution is the import that archives a finding no longer reported: its required fields
// from the record, Compliance PASSED, RecordState ARCHIVED, severity INFORMATIONAL as Security
// Hub gives passed checks. Workflow is left out: Security Hub keeps a finding's workflow after
// its creation and resolves an archived finding itself.
func resolution(id, account, region string, rec Record, at time.Time) types.AwsSecurityFinding {
	created := rec.CreatedAt
	if created.IsZero() {
		created = at
	}
	title := rec.Title
	if title == "" {
		title = rec.Rule
	}
	if title == "" {
		title = "iamwarden finding"
	}
	original := strings.ToLower(rec.Severity)
	if original == "" {
		original = "informational"
	}
	f := types.AwsSecurityFinding{
		SchemaVersion: aws.String(SchemaVersion),
		Id:            aws.String(id),
		ProductArn:    aws.String(rec.ProductArn),
		GeneratorId:   aws.String(rec.GeneratorID),
		AwsAccountId:  aws.String(account),
		Region:        aws.String(region),
		Types:         slices.Clone(rec.Types),
		CreatedAt:     aws.String(FormatTime(created)),
		UpdatedAt:     aws.String(FormatTime(at)),
		Severity:      &types.Severity{Label: types.SeverityLabelInformational, Normalized: aws.Int32(0), Original: aws.String(original)},
		FindingProviderFields: &types.FindingProviderFields{
			Severity: &types.FindingProviderSeverity{Label: types.SeverityLabelInformational, Original: aws.String(original)},
			Types:    slices.Clone(rec.Types),
		},
		Title:         aws.String(title),
		Description:   aws.String(truncate("iamwarden no longer reports this: the rule passes, or the user or access key is gone, or an exemption took it out of the scan. "+title+".", maxDescription)),
		Compliance:    &types.Compliance{Status: types.ComplianceStatusPassed, RelatedRequirements: slices.Clone(rec.RelatedRequirements)},
		ProductFields: map[string]string{FieldState: StateResolved},
		RecordState:   types.RecordStateArchived,
	}
	if rec.Rule != "" {
		f.ProductFields[FieldRule] = rec.Rule
	}
	if !rec.FirstObservedAt.IsZero() {
		f.FirstObservedAt = aws.String(FormatTime(rec.FirstObservedAt))
	}
	if !rec.LastObservedAt.IsZero() {
		f.LastObservedAt = aws.String(FormatTime(rec.LastObservedAt))
	}
	if len(f.Types) == 0 {
		f.Types = []string{TypeBestPractices}
		f.FindingProviderFields.Types = []string{TypeBestPractices}
	}
	if f.ProductArn == nil || *f.ProductArn == "" {
		f.ProductArn = aws.String(ProductARN("aws", region, account))
	}
	if aws.ToString(f.GeneratorId) == "" {
		f.GeneratorId = aws.String("iamwarden/" + rec.Rule)
	}
	for _, r := range rec.Resources {
		f.Resources = append(f.Resources, types.Resource{Type: aws.String(r.Type), Id: aws.String(r.ID),
			Partition: types.Partition(r.Partition), Region: optional(r.Region)})
	}
	if len(f.Resources) == 0 {
		f.Resources = []types.Resource{{Type: aws.String(ResourceAccount), Id: aws.String("AWS::::Account:" + account)}}
	}
	return f
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
