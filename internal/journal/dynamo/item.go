package dynamo

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Attribute names. An entry is one item of type "action"; a dedupe key is a second item of
// type "dedupe" whose ActionID is ReservedPrefix + the key.
const (
	attrActionID  = "ActionID"
	attrItemType  = "ItemType"
	attrRunID     = "RunID"
	attrAccountID = "AccountID"
	attrKind      = "Kind"
	attrPrincipal = "Principal"
	attrUserID    = "UserID"
	attrResource  = "Resource"
	attrRule      = "Rule"
	attrFindingID = "FindingID"
	attrReason    = "Reason"
	attrPrior     = "Prior"
	attrStatus    = "Status"
	attrDetail    = "Detail"
	attrUndoOf    = "UndoOf"
	attrDedupeKey = "DedupeKey"
	attrActor     = "Actor"
	attrCreatedAt = "CreatedAt"
	attrUpdatedAt = "UpdatedAt"
	// attrCreatedKey is CreatedAt + "#" + ActionID: the sort key of every index, so that
	// entries sort by time and then by ID, as List returns them.
	attrCreatedKey = "CreatedKey"
	// attrOpenAccountID is the AccountID while the entry is an intent and absent after Finish,
	// which makes the open index hold only open intents.
	attrOpenAccountID = "OpenAccountID"
	// attrDedupeOf, on a dedupe item, is the ActionID that holds the key.
	attrDedupeOf = "DedupeOf"

	// Lease items: ActionID "LEASE#<account>".
	attrHost     = "Host"
	attrPID      = "PID"
	attrAcquired = "Acquired"
	attrExpires  = "Expires"
	// attrExpiresEpoch is Expires in Unix seconds, the table's TTL attribute: DynamoDB deletes
	// abandoned leases by itself (within a day or two; Acquire never relies on it).
	attrExpiresEpoch = "ExpiresEpoch"
)

// Item types.
const (
	typeAction = "action"
	typeDedupe = "dedupe"
	typeLease  = "lease"
	// A run record's head and the chunks of its body (runs.go).
	typeRun      = "run"
	typeRunChunk = "run-chunk"
)

// Index names.
const (
	IndexAccount = "by-account" // AccountID, CreatedKey
	IndexRun     = "by-run"     // RunID, CreatedKey
	IndexOpen    = "open"       // OpenAccountID, CreatedKey
)

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func createdKey(e journal.Entry) string {
	return journal.FormatTime(e.CreatedAt) + "#" + e.ActionID
}

func dedupeID(key string) string { return journal.ReservedPrefix + key }

// toItem writes a prepared entry. Empty strings are left out: index keys may not be empty.
func toItem(e journal.Entry) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrItemType:   str(typeAction),
		attrCreatedAt:  str(journal.FormatTime(e.CreatedAt)),
		attrUpdatedAt:  str(journal.FormatTime(e.UpdatedAt)),
		attrCreatedKey: str(createdKey(e)),
	}
	prior := make(map[string]types.AttributeValue, len(e.Prior))
	for k, v := range e.Prior {
		prior[k] = str(v)
	}
	item[attrPrior] = &types.AttributeValueMemberM{Value: prior}
	for name, v := range map[string]string{
		attrActionID: e.ActionID, attrRunID: e.RunID, attrAccountID: e.AccountID,
		attrKind: string(e.Kind), attrPrincipal: e.Principal, attrUserID: e.UserID, attrResource: e.Resource,
		attrRule: e.Rule, attrFindingID: e.FindingID, attrReason: e.Reason,
		attrStatus: string(e.Status), attrDetail: e.Detail, attrUndoOf: e.UndoOf,
		attrDedupeKey: e.DedupeKey, attrActor: e.Actor,
	} {
		if v != "" {
			item[name] = str(v)
		}
	}
	if e.Status == journal.StatusIntent {
		item[attrOpenAccountID] = str(e.AccountID)
	}
	return item
}

// isAction reports whether item is an entry rather than a dedupe item.
func isAction(item map[string]types.AttributeValue) bool {
	v, ok := item[attrItemType].(*types.AttributeValueMemberS)
	return ok && v.Value == typeAction
}

// itemReader reads an item's attributes, collecting what is malformed instead of stopping at it,
// so an error names every problem of the item.
type itemReader struct {
	item     map[string]types.AttributeValue
	problems []string
}

// str reads a string attribute; absent is "".
func (r *itemReader) str(name string) string {
	switch v := r.item[name].(type) {
	case nil:
		return ""
	case *types.AttributeValueMemberS:
		return v.Value
	default:
		r.problems = append(r.problems, fmt.Sprintf("%s is %T, want a string", name, v))
		return ""
	}
}

// fromItem reads an entry.
func fromItem(item map[string]types.AttributeValue) (journal.Entry, error) {
	r := &itemReader{item: item}
	s := r.str
	e := journal.Entry{
		ActionID: s(attrActionID), RunID: s(attrRunID), AccountID: s(attrAccountID),
		Kind: journal.Kind(s(attrKind)), Principal: s(attrPrincipal), UserID: s(attrUserID), Resource: s(attrResource),
		Rule: s(attrRule), FindingID: s(attrFindingID), Reason: s(attrReason),
		Status: journal.Status(s(attrStatus)), Detail: s(attrDetail), UndoOf: s(attrUndoOf),
		DedupeKey: s(attrDedupeKey), Actor: s(attrActor), Prior: map[string]string{},
	}
	switch m := item[attrPrior].(type) {
	case nil:
	case *types.AttributeValueMemberM:
		for k, v := range m.Value {
			sv, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				r.problems = append(r.problems, fmt.Sprintf("prior state %q is %T, want a string", k, v))
				continue
			}
			e.Prior[k] = sv.Value
		}
	default:
		r.problems = append(r.problems, fmt.Sprintf("%s is %T, want a map", attrPrior, m))
	}
	var err error
	if e.CreatedAt, err = journal.ParseTime(s(attrCreatedAt)); err != nil {
		r.problems = append(r.problems, err.Error())
	}
	if e.UpdatedAt, err = journal.ParseTime(s(attrUpdatedAt)); err != nil {
		r.problems = append(r.problems, err.Error())
	}
	if len(r.problems) > 0 {
		return journal.Entry{}, fmt.Errorf("malformed item %q: %s", e.ActionID, strings.Join(r.problems, "; "))
	}
	return e, nil
}

// expr collects the names and values of one request's expressions.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
}

func newExpr() *expr {
	return &expr{names: map[string]string{}, values: map[string]types.AttributeValue{}}
}

// name returns a placeholder for an attribute name (several are reserved words, e.g. Status).
func (x *expr) name(attr string) string {
	x.names["#"+attr] = attr
	return "#" + attr
}

// value returns a placeholder for a string value.
func (x *expr) value(v string) string {
	k := fmt.Sprintf(":v%d", len(x.values))
	x.values[k] = str(v)
	return k
}

// in writes attr = v for one value and attr IN (...) for several.
func (x *expr) in(attr string, vs []string) string {
	if len(vs) == 1 {
		return x.name(attr) + " = " + x.value(vs[0])
	}
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = x.value(v)
	}
	return x.name(attr) + " IN (" + strings.Join(ph, ", ") + ")"
}

// keyCondition writes an index query's key condition: the hash key equal to value, and the
// created key within [since, until) for the times that are set. CreatedKey is "<time>#<id>":
// "<since>" sorts before every key at or after since, and "<until>" after every key before
// until, so the bounds are exact.
func (x *expr) keyCondition(hashAttr, value string, since, until time.Time) string {
	key := x.name(hashAttr) + " = " + x.value(value)
	switch sk := attrCreatedKey; {
	case !since.IsZero() && !until.IsZero():
		key += " AND " + x.name(sk) + " BETWEEN " + x.value(journal.FormatTime(since)) + " AND " + x.value(journal.FormatTime(until))
	case !since.IsZero():
		key += " AND " + x.name(sk) + " >= " + x.value(journal.FormatTime(since))
	case !until.IsZero():
		key += " AND " + x.name(sk) + " < " + x.value(journal.FormatTime(until))
	}
	return key
}

// window writes the conditions that keep items created at or after since and before until (the
// created key sorts in time order); none for zero times.
func (x *expr) window(since, until time.Time) []string {
	var out []string
	if !since.IsZero() {
		out = append(out, x.name(attrCreatedKey)+" >= "+x.value(journal.FormatTime(since)))
	}
	if !until.IsZero() {
		out = append(out, x.name(attrCreatedKey)+" < "+x.value(journal.FormatTime(until)))
	}
	return out
}
