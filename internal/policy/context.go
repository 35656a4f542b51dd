package policy

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ValueType is the type of a request context value, named as AWS's ContextKeyType
// (iam:SimulatePrincipalPolicy's ContextEntries).
type ValueType string

// Context value types.
const (
	TypeString      ValueType = "string"
	TypeStringList  ValueType = "stringList"
	TypeNumeric     ValueType = "numeric"
	TypeNumericList ValueType = "numericList"
	TypeBoolean     ValueType = "boolean"
	TypeBooleanList ValueType = "booleanList"
	TypeIP          ValueType = "ip"
	TypeIPList      ValueType = "ipList"
	TypeDate        ValueType = "date"
	TypeDateList    ValueType = "dateList"
	TypeBinary      ValueType = "binary"
	TypeBinaryList  ValueType = "binaryList"
)

// ValueTypes lists every context value type.
var ValueTypes = []ValueType{TypeString, TypeStringList, TypeNumeric, TypeNumericList, TypeBoolean,
	TypeBooleanList, TypeIP, TypeIPList, TypeDate, TypeDateList, TypeBinary, TypeBinaryList}

// IsList reports whether the type is multi-valued.
func (t ValueType) IsList() bool { return strings.HasSuffix(string(t), "List") }

// Value is a request context value in its text form, as AWS compares it.
type Value struct {
	Type   ValueType
	Values []string
}

// String returns a single-valued string.
func String(s string) Value { return Value{Type: TypeString, Values: []string{s}} }

// Strings returns a multi-valued string.
func Strings(s ...string) Value { return Value{Type: TypeStringList, Values: s} }

// Bool returns a boolean.
func Bool(b bool) Value { return Value{Type: TypeBoolean, Values: []string{strconv.FormatBool(b)}} }

// Numeric returns a number.
func Numeric(n int64) Value {
	return Value{Type: TypeNumeric, Values: []string{strconv.FormatInt(n, 10)}}
}

// Date returns a date in ISO 8601 (RFC 3339) form.
func Date(t time.Time) Value {
	return Value{Type: TypeDate, Values: []string{t.UTC().Format(time.RFC3339)}}
}

// IP returns an IP address.
func IP(addr string) Value { return Value{Type: TypeIP, Values: []string{addr}} }

// ParseValue parses text of the given type; list types take comma-separated values.
func ParseValue(typ ValueType, text string) (Value, error) {
	known := false
	for _, t := range ValueTypes {
		if t == typ {
			known = true
		}
	}
	if !known {
		return Value{}, fmt.Errorf("unknown context type %q (want one of %s)", typ, joinTypes())
	}
	parts := []string{text}
	if typ.IsList() {
		parts = strings.Split(text, ",")
		if text == "" {
			parts = []string{}
		}
	}
	base := ValueType(strings.TrimSuffix(string(typ), "List"))
	out := Value{Type: typ, Values: make([]string, 0, len(parts))}
	for _, p := range parts {
		if typ.IsList() {
			p = strings.TrimSpace(p)
		}
		switch base {
		case TypeNumeric:
			if _, err := strconv.ParseFloat(p, 64); err != nil {
				return Value{}, fmt.Errorf("%q is not a number", p)
			}
		case TypeBoolean:
			b, err := strconv.ParseBool(p)
			if err != nil {
				return Value{}, fmt.Errorf("%q is not true or false", p)
			}
			p = strconv.FormatBool(b)
		case TypeIP:
			if _, ok := parseIP(p); !ok {
				return Value{}, fmt.Errorf("%q is not an IP address", p)
			}
		case TypeDate:
			if _, ok := parseDate(p); !ok {
				return Value{}, fmt.Errorf("%q is not a date (ISO 8601 or epoch seconds)", p)
			}
		case TypeBinary:
			if _, err := base64.StdEncoding.DecodeString(p); err != nil {
				return Value{}, fmt.Errorf("%q is not base64", p)
			}
		}
		out.Values = append(out.Values, p)
	}
	return out, nil
}

func joinTypes() string {
	s := make([]string, len(ValueTypes))
	for i, t := range ValueTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// AuthKind is how the principal authenticated the request.
type AuthKind int

// Authentication kinds. They decide aws:MultiFactorAuthPresent: AWS omits the key for requests
// signed with long-term access keys and sets it to "false" for console sessions without MFA.
const (
	AuthConsole    AuthKind = iota // console sign-in with password only
	AuthAccessKey                  // long-term access key (AKIA...): MFA keys absent
	AuthConsoleMFA                 // console sign-in with password and MFA
	AuthSessionMFA                 // temporary credentials from sts:GetSessionToken with MFA
)

func (k AuthKind) String() string {
	switch k {
	case AuthConsole:
		return "console"
	case AuthAccessKey:
		return "access-key"
	case AuthConsoleMFA:
		return "console-mfa"
	case AuthSessionMFA:
		return "session-mfa"
	}
	return fmt.Sprintf("auth(%d)", int(k))
}

// ContextOptions complete ContextFor. Zero values are omitted or defaulted.
type ContextOptions struct {
	UserID   string        // aws:userid (AIDA... for users); omitted when empty
	Now      time.Time     // aws:CurrentTime and aws:EpochTime; omitted when zero
	MFAAge   time.Duration // aws:MultiFactorAuthAge for MFA sessions
	Insecure bool          // aws:SecureTransport false instead of true
}

// PrincipalInfo describes a principal ARN.
type PrincipalInfo struct {
	ARN     string
	Account string
	Type    string // User, AssumedRole, FederatedUser, Account
	Name    string // user name, role session name...
}

// PrincipalARN is the value of aws:PrincipalArn: the principal's ARN, except for an assumed-role
// session, whose aws:PrincipalArn is the role's ARN (arn:aws:iam::ACCOUNT:role/NAME; the session
// ARN does not carry the role's path).
func (pi PrincipalInfo) PrincipalARN() string {
	parts := strings.SplitN(pi.ARN, ":", 6)
	if pi.Type != "AssumedRole" || len(parts) != 6 || parts[2] != "sts" {
		return pi.ARN
	}
	role, _, _ := strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	return parts[0] + ":" + parts[1] + ":iam::" + parts[4] + ":role/" + role
}

// ParsePrincipal splits an IAM or STS principal ARN.
func ParsePrincipal(arn string) (PrincipalInfo, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || (parts[2] != "iam" && parts[2] != "sts") {
		return PrincipalInfo{}, fmt.Errorf("%q is not an IAM or STS principal ARN", arn)
	}
	pi := PrincipalInfo{ARN: arn, Account: parts[4]}
	res := parts[5]
	typ, rest, _ := strings.Cut(res, "/")
	switch {
	case parts[2] == "iam" && typ == "user":
		pi.Type = "User"
		pi.Name = rest[strings.LastIndexByte(rest, '/')+1:]
	case parts[2] == "iam" && res == "root":
		pi.Type = "Account"
	case parts[2] == "sts" && typ == "assumed-role":
		pi.Type = "AssumedRole"
		pi.Name = rest[strings.LastIndexByte(rest, '/')+1:]
	case parts[2] == "sts" && typ == "federated-user":
		pi.Type = "FederatedUser"
		pi.Name = rest
	case parts[2] == "iam" && typ == "role":
		pi.Type = "AssumedRole"
		pi.Name = rest[strings.LastIndexByte(rest, '/')+1:]
	default:
		return PrincipalInfo{}, fmt.Errorf("%q: unsupported principal type %q", arn, typ)
	}
	if pi.Type == "User" && pi.Name == "" {
		return PrincipalInfo{}, fmt.Errorf("%q: missing user name", arn)
	}
	return pi, nil
}

// ContextFor returns the request context AWS would build for an IAM user (or other principal)
// authenticated as kind: aws:username (users only), aws:userid, aws:PrincipalArn,
// aws:PrincipalAccount, aws:PrincipalType, aws:MultiFactorAuthPresent and
// aws:MultiFactorAuthAge (absent for long-term access keys), aws:CurrentTime, aws:EpochTime and
// aws:SecureTransport.
func ContextFor(principalARN string, kind AuthKind, opts ContextOptions) (map[string]Value, error) {
	pi, err := ParsePrincipal(principalARN)
	if err != nil {
		return nil, err
	}
	ctx := map[string]Value{
		"aws:PrincipalArn":     String(pi.PrincipalARN()),
		"aws:PrincipalAccount": String(pi.Account),
		"aws:PrincipalType":    String(pi.Type),
		"aws:SecureTransport":  Bool(!opts.Insecure),
	}
	if pi.Type == "User" {
		ctx["aws:username"] = String(pi.Name)
	}
	if opts.UserID != "" {
		ctx["aws:userid"] = String(opts.UserID)
	}
	if !opts.Now.IsZero() {
		ctx["aws:CurrentTime"] = Date(opts.Now)
		ctx["aws:EpochTime"] = Numeric(opts.Now.Unix())
	}
	switch kind {
	case AuthConsole:
		ctx["aws:MultiFactorAuthPresent"] = Bool(false)
	case AuthAccessKey:
		// Long-term keys: AWS sends neither MFA key.
	case AuthConsoleMFA, AuthSessionMFA:
		ctx["aws:MultiFactorAuthPresent"] = Bool(true)
		ctx["aws:MultiFactorAuthAge"] = Numeric(int64(opts.MFAAge / time.Second))
	default:
		return nil, fmt.Errorf("unknown authentication kind %d", int(kind))
	}
	return ctx, nil
}

// lookup finds key in ctx: as written, then case-insensitively (condition keys are not case
// sensitive).
func lookup(ctx map[string]Value, key string) (Value, bool) {
	if v, ok := ctx[key]; ok {
		return v, true
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return Value{}, false
}

func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') < 0 {
		a, ok := parseIP(s)
		if !ok {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked(), true
}

func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01"}

// parseDate accepts ISO 8601 forms and epoch seconds; it returns Unix nanoseconds.
func parseDate(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	if c := s[0]; c >= '0' && c <= '9' && strings.IndexByte(s, '-') < 0 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		return n * int64(time.Second), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano(), true
		}
	}
	return 0, false
}
