package securityhub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/document"
	smithytime "github.com/aws/smithy-go/time"
	"github.com/aws/smithy-go/traits"
)

// The SDK's types carry no JSON tags: their wire form is produced by the SDK's own generated
// serializers, which describe each value member by member to a smithy.ShapeSerializer, naming
// every member as the Security Hub API model does. Those names are ASFF's (PascalCase), so a
// JSON writer driven by the same serializers writes exactly what BatchImportFindings sends,
// whatever fields a finding holds. jsonWriter is that writer.

// WriteASFF writes the findings as one indented JSON array in ASFF field names, as
// BatchImportFindings takes them. An empty list is written as [].
func WriteASFF(w io.Writer, fs []types.AwsSecurityFinding) error {
	var compact bytes.Buffer
	compact.WriteByte('[')
	for i := range fs {
		if i > 0 {
			compact.WriteByte(',')
		}
		compact.Write(encodeFinding(&fs[i]))
	}
	compact.WriteByte(']')
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return fmt.Errorf("write asff: %w", err)
	}
	out.WriteByte('\n')
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("write asff: %w", err)
	}
	return nil
}

// encodeFinding is one finding's compact JSON, as it travels in a BatchImportFindings request.
func encodeFinding(f *types.AwsSecurityFinding) []byte {
	w := &jsonWriter{}
	f.Serialize(w)
	return w.buf
}

// jsonWriter is a smithy.ShapeSerializer writing compact JSON with the model's member names.
type jsonWriter struct {
	buf []byte
	// frames holds, per open object or array, whether a value was already written in it (so the
	// next one needs a comma) and whether it is an object (its values are keyed).
	frames []frame
	// keyed is set by WriteKey: the next value's key is already written.
	keyed bool
}

type frame struct {
	object, started bool
	// A map's entries are sorted by key when it closes, so the output is the same on every
	// run (Go ranges over maps in random order): start is where the map's '{' is, and each
	// entry's key and start offset are kept.
	start   int
	entries []entry
}

type entry struct {
	key string
	at  int
}

var _ smithy.ShapeSerializer = (*jsonWriter)(nil)

func (w *jsonWriter) Bytes() []byte { return append([]byte(nil), w.buf...) }

// prefix writes what precedes a value: a comma after an earlier value, and inside an object the
// member's name.
func (w *jsonWriter) prefix(s *smithy.Schema) {
	if w.keyed {
		w.keyed = false
		return
	}
	if len(w.frames) == 0 {
		return
	}
	top := &w.frames[len(w.frames)-1]
	if top.started {
		w.buf = append(w.buf, ',')
	}
	top.started = true
	if top.object && s != nil {
		w.buf = appendString(w.buf, s.MemberName())
		w.buf = append(w.buf, ':')
	}
}

func (w *jsonWriter) open(s *smithy.Schema, c byte, object bool) {
	w.prefix(s)
	w.buf = append(w.buf, c)
	w.frames = append(w.frames, frame{object: object})
}

func (w *jsonWriter) close(c byte) {
	w.buf = append(w.buf, c)
	w.frames = w.frames[:len(w.frames)-1]
}

func (w *jsonWriter) WriteInt8(s *smithy.Schema, v int8)   { w.WriteInt64(s, int64(v)) }
func (w *jsonWriter) WriteInt16(s *smithy.Schema, v int16) { w.WriteInt64(s, int64(v)) }
func (w *jsonWriter) WriteInt32(s *smithy.Schema, v int32) { w.WriteInt64(s, int64(v)) }
func (w *jsonWriter) WriteInt64(s *smithy.Schema, v int64) {
	w.prefix(s)
	w.buf = strconv.AppendInt(w.buf, v, 10)
}
func (w *jsonWriter) WriteFloat32(s *smithy.Schema, v float32) { w.writeFloat(s, float64(v), 32) }
func (w *jsonWriter) WriteFloat64(s *smithy.Schema, v float64) { w.writeFloat(s, v, 64) }

func (w *jsonWriter) writeFloat(s *smithy.Schema, v float64, bits int) {
	w.prefix(s)
	switch {
	case math.IsInf(v, 1):
		w.buf = append(w.buf, `"Infinity"`...)
	case math.IsInf(v, -1):
		w.buf = append(w.buf, `"-Infinity"`...)
	case math.IsNaN(v):
		w.buf = append(w.buf, `"NaN"`...)
	default:
		w.buf = strconv.AppendFloat(w.buf, v, 'g', -1, bits)
	}
}

func (w *jsonWriter) WriteBool(s *smithy.Schema, v bool) {
	w.prefix(s)
	w.buf = strconv.AppendBool(w.buf, v)
}

func (w *jsonWriter) WriteString(s *smithy.Schema, v string) {
	w.prefix(s)
	w.buf = appendString(w.buf, v)
}

func (w *jsonWriter) WriteBigInt(s *smithy.Schema, v *big.Int) {
	w.prefix(s)
	w.buf = v.Append(w.buf, 10)
}

func (w *jsonWriter) WriteBigFloat(s *smithy.Schema, v *big.Float) {
	w.prefix(s)
	w.buf = v.Append(w.buf, 'g', -1)
}

func (w *jsonWriter) WriteBlob(s *smithy.Schema, v []byte) {
	w.prefix(s)
	if v == nil {
		w.buf = append(w.buf, "null"...)
		return
	}
	w.buf = appendString(w.buf, base64.StdEncoding.EncodeToString(v))
}

// WriteTime follows the member's timestampFormat trait, epoch seconds by default, as the
// restJson1 protocol does. (ASFF's timestamps are strings, so findings never reach it.)
func (w *jsonWriter) WriteTime(s *smithy.Schema, v time.Time) {
	format := "epoch-seconds"
	if t, ok := smithy.SchemaTrait[*traits.TimestampFormat](s); ok {
		format = t.Format
	}
	switch format {
	case "date-time":
		w.WriteString(s, smithytime.FormatDateTime(v))
	case "http-date":
		w.WriteString(s, smithytime.FormatHTTPDate(v))
	default:
		w.WriteFloat64(s, smithytime.FormatEpochSeconds(v))
	}
}

func (w *jsonWriter) WriteUnion(s, variant *smithy.Schema) {
	w.open(s, '{', true)
	w.prefix(variant)
	w.keyed = true
}

func (w *jsonWriter) CloseUnion() {
	w.keyed = false
	w.close('}')
}

func (w *jsonWriter) WriteDocument(s *smithy.Schema, v document.Value) {
	raw, err := json.Marshal(documentValue(v))
	if err != nil {
		raw = []byte("null")
	}
	w.prefix(s)
	w.buf = append(w.buf, raw...)
}

// documentValue turns a document into plain values encoding/json writes.
func documentValue(v document.Value) any {
	switch vv := v.(type) {
	case document.Boolean:
		return bool(vv)
	case document.Number:
		return json.Number(vv)
	case document.String:
		return string(vv)
	case document.Blob:
		return []byte(vv)
	case document.Timestamp:
		return smithytime.FormatDateTime(time.Time(vv))
	case document.List:
		out := make([]any, len(vv))
		for i, x := range vv {
			out[i] = documentValue(x)
		}
		return out
	case document.Map:
		out := make(map[string]any, len(vv))
		for k, x := range vv {
			out[k] = documentValue(x)
		}
		return out
	case document.Structure:
		out := make(map[string]any, len(vv.Members))
		for k, x := range vv.Members {
			out[k] = documentValue(x)
		}
		return out
	case document.Opaque:
		return vv.Value
	case *document.Opaque:
		return vv.Value
	default:
		return nil
	}
}

func (w *jsonWriter) WriteNil(s *smithy.Schema) {
	w.prefix(s)
	w.buf = append(w.buf, "null"...)
}

func (w *jsonWriter) WriteStruct(s *smithy.Schema) { w.open(s, '{', true) }
func (w *jsonWriter) CloseStruct()                 { w.close('}') }
func (w *jsonWriter) WriteList(s *smithy.Schema)   { w.open(s, '[', false) }
func (w *jsonWriter) CloseList()                   { w.close(']') }
func (w *jsonWriter) WriteMap(s *smithy.Schema) {
	w.open(s, '{', true)
	w.frames[len(w.frames)-1].start = len(w.buf) - 1
}

func (w *jsonWriter) CloseMap() {
	top := w.frames[len(w.frames)-1]
	if len(top.entries) > 1 {
		parts := make([]struct {
			key  string
			data []byte
		}, len(top.entries))
		for i, e := range top.entries {
			end := len(w.buf)
			if i+1 < len(top.entries) {
				end = top.entries[i+1].at - 1 // before the comma
			}
			parts[i].key = e.key
			parts[i].data = append([]byte(nil), w.buf[e.at:end]...)
		}
		slices.SortStableFunc(parts, func(a, b struct {
			key  string
			data []byte
		}) int {
			return strings.Compare(a.key, b.key)
		})
		w.buf = w.buf[:top.start+1]
		for i, p := range parts {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, p.data...)
		}
	}
	w.close('}')
}

func (w *jsonWriter) WriteKey(_ *smithy.Schema, key string) {
	top := &w.frames[len(w.frames)-1]
	if top.started {
		w.buf = append(w.buf, ',')
	}
	top.started = true
	top.entries = append(top.entries, entry{key: key, at: len(w.buf)})
	w.buf = appendString(w.buf, key)
	w.buf = append(w.buf, ':')
	w.keyed = true
}

// appendString appends s as a JSON string. Unlike encoding/json it leaves <, > and & as they
// are ("<root_account>" stays readable); invalid UTF-8 becomes U+FFFD.
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			buf = append(buf, '\\', byte(r))
		case r == '\n':
			buf = append(buf, '\\', 'n')
		case r == '\r':
			buf = append(buf, '\\', 'r')
		case r == '\t':
			buf = append(buf, '\\', 't')
		case r < 0x20 || r == '\u2028' || r == '\u2029':
			buf = append(buf, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
		default:
			buf = utf8.AppendRune(buf, r)
		}
	}
	return append(buf, '"')
}

// ASFFWriter writes one JSON array of findings given in parts (an organization's accounts one
// after the other), so that no more than one part is held.
type ASFFWriter struct {
	w   io.Writer
	n   int
	err error
}

// NewASFFWriter starts the array.
func NewASFFWriter(w io.Writer) *ASFFWriter {
	a := &ASFFWriter{w: w}
	_, a.err = io.WriteString(w, "[")
	return a
}

// Add writes findings into the array.
func (a *ASFFWriter) Add(fs []types.AwsSecurityFinding) error {
	for i := range fs {
		if a.err != nil {
			return a.err
		}
		var out bytes.Buffer
		if a.n > 0 {
			out.WriteByte(',')
		}
		out.WriteString("\n  ")
		if err := json.Indent(&out, encodeFinding(&fs[i]), "  ", "  "); err != nil {
			return fmt.Errorf("write asff: %w", err)
		}
		a.n++
		_, a.err = a.w.Write(out.Bytes())
	}
	return a.err
}

// Close ends the array.
func (a *ASFFWriter) Close() error {
	if a.err != nil {
		return a.err
	}
	end := "\n]\n"
	if a.n == 0 {
		end = "]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}
