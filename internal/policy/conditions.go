package policy

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

type baseOp uint8

const (
	opStringEquals baseOp = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opBinaryEquals
	opIPAddress
	opArnLike
	opNull
)

type setKind uint8

const (
	setNone setKind = iota
	setAnyValue
	setAllValues
)

// operators maps each base operator name to its meaning; negated operators test the opposite.
var operators = map[string]struct {
	base    baseOp
	negated bool
}{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"BinaryEquals":              {opBinaryEquals, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnLike":                   {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

// opSpec is a parsed condition operator such as "ForAllValues:StringLikeIfExists".
type opSpec struct {
	name     string
	base     baseOp
	negated  bool
	ifExists bool
	set      setKind
}

func parseOperator(name string) (opSpec, error) {
	s := opSpec{name: name}
	rest := name
	if q, op, ok := strings.Cut(name, ":"); ok {
		switch q {
		case "ForAnyValue":
			s.set = setAnyValue
		case "ForAllValues":
			s.set = setAllValues
		default:
			return s, fmt.Errorf("unknown set operator %q in %q (want ForAnyValue or ForAllValues)", q, name)
		}
		rest = op
	}
	if base, ok := strings.CutSuffix(rest, "IfExists"); ok {
		s.ifExists = true
		rest = base
	}
	o, ok := operators[rest]
	if !ok {
		return s, fmt.Errorf("unknown condition operator %q", name)
	}
	if o.base == opNull && (s.ifExists || s.set != setNone) {
		return s, fmt.Errorf("condition operator %q: Null takes no IfExists or set qualifier", name)
	}
	s.base, s.negated = o.base, o.negated
	return s, nil
}

// checkValue reports a policy value the operator can never use.
func (s opSpec) checkValue(v string) error {
	if strings.Contains(v, "${") {
		return nil
	}
	switch s.base {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		if _, ok := parseDate(v); !ok {
			return fmt.Errorf("%q is not a date", v)
		}
	case opIPAddress:
		if _, ok := parsePrefix(v); !ok {
			return fmt.Errorf("%q is not an IP address or CIDR block", v)
		}
	case opBool, opNull:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Errorf("%q is not true or false", v)
		}
	}
	return nil
}

// cvalue is a condition value parsed for its operator.
type cvalue struct {
	pat    pattern
	num    float64
	date   int64
	prefix netip.Prefix
	flag   bool // Bool/Null value
	ok     bool // parsed (numbers, dates, IPs, booleans)
	raw    string
}

type ccondition struct {
	spec   opSpec
	key    string
	values []cvalue
}

func compileCondition(spec opSpec, key string, vals []string, vars bool) ccondition {
	c := ccondition{spec: spec, key: key, values: make([]cvalue, len(vals))}
	for i, v := range vals {
		cv := cvalue{raw: v}
		switch spec.base {
		case opStringEquals:
			cv.pat = compilePattern(v, patternOpts{vars: vars})
		case opStringEqualsIgnoreCase:
			cv.pat = compilePattern(v, patternOpts{vars: vars, fold: true})
		case opStringLike:
			cv.pat = compilePattern(v, patternOpts{vars: vars, wild: true})
		case opArnLike:
			cv.pat = compilePattern(v, patternOpts{vars: vars, wild: true, arn: true})
		case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
			n, err := strconv.ParseFloat(v, 64)
			cv.num, cv.ok = n, err == nil
		case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
			cv.date, cv.ok = parseDate(v)
		case opIPAddress:
			cv.prefix, cv.ok = parsePrefix(v)
		case opBool, opNull:
			switch strings.ToLower(v) {
			case "true":
				cv.flag, cv.ok = true, true
			case "false":
				cv.flag, cv.ok = false, true
			}
		case opBinaryEquals:
			cv.ok = true
		}
		c.values[i] = cv
	}
	return c
}

// eval evaluates the condition against the request context. A policy value whose variable has no
// value matches nothing; a negated operator that meets one is false, since it cannot prove the
// key differs from it.
func (c *ccondition) eval(e *evalCtx) bool {
	r, ok := c.evalValues(e)
	if !ok && c.spec.negated {
		return false
	}
	return r
}

func (c *ccondition) evalValues(e *evalCtx) (result, ok bool) {
	v, present := lookup(e.req.Context, c.key)
	if c.spec.base == opNull {
		for i := range c.values {
			cv := &c.values[i]
			if cv.ok && cv.flag != present {
				return true, true
			}
		}
		return false, true
	}
	if !present || len(v.Values) == 0 {
		switch {
		case c.spec.ifExists:
			return true, true
		case c.spec.set == setAllValues:
			return true, true
		case c.spec.set == setAnyValue:
			return false, true
		}
		return c.spec.negated, true
	}
	ok = true
	switch c.spec.set {
	case setAnyValue:
		for _, s := range v.Values {
			if c.matchAny(s, e, &ok) != c.spec.negated {
				return true, ok
			}
		}
		return false, ok
	case setAllValues:
		for _, s := range v.Values {
			if c.matchAny(s, e, &ok) == c.spec.negated {
				return false, ok
			}
		}
		return true, ok
	}
	// A single-valued operator on a (possibly multi-valued) key: positive operators need one
	// context value to match; negated operators need none to match.
	for _, s := range v.Values {
		if c.matchAny(s, e, &ok) {
			return !c.spec.negated, ok
		}
	}
	return c.spec.negated, ok
}

// matchAny reports whether the context value s matches any policy value (values are ORed).
func (c *ccondition) matchAny(s string, e *evalCtx, ok *bool) bool {
	switch c.spec.base {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike:
		for i := range c.values {
			m, vok := c.values[i].pat.match(s, e)
			if !vok {
				*ok = false
			}
			if m {
				return true
			}
		}
		return false
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false
		}
		for i := range c.values {
			cv := &c.values[i]
			if cv.ok && compareNum(c.spec.base, n, cv.num) {
				return true
			}
		}
		return false
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		d, dok := parseDate(s)
		if !dok {
			return false
		}
		for i := range c.values {
			cv := &c.values[i]
			if cv.ok && compareDate(c.spec.base, d, cv.date) {
				return true
			}
		}
		return false
	case opBool:
		var b bool
		switch {
		case strings.EqualFold(s, "true"):
			b = true
		case strings.EqualFold(s, "false"):
		default:
			return false
		}
		for i := range c.values {
			if c.values[i].ok && c.values[i].flag == b {
				return true
			}
		}
		return false
	case opBinaryEquals:
		for i := range c.values {
			if binaryEqual(c.values[i].raw, s) {
				return true
			}
		}
		return false
	case opIPAddress:
		a, aok := parseIP(s)
		if !aok {
			return false
		}
		for i := range c.values {
			if c.values[i].ok && c.values[i].prefix.Contains(a) {
				return true
			}
		}
		return false
	}
	return false
}

func compareNum(op baseOp, a, b float64) bool {
	switch op {
	case opNumericEquals:
		return a == b
	case opNumericLessThan:
		return a < b
	case opNumericLessThanEquals:
		return a <= b
	case opNumericGreaterThan:
		return a > b
	case opNumericGreaterThanEquals:
		return a >= b
	}
	return false
}

func compareDate(op baseOp, a, b int64) bool {
	switch op {
	case opDateEquals:
		return a == b
	case opDateLessThan:
		return a < b
	case opDateLessThanEquals:
		return a <= b
	case opDateGreaterThan:
		return a > b
	case opDateGreaterThanEquals:
		return a >= b
	}
	return false
}

// binaryEqual compares base64 values by their decoded bytes when both decode, else as text.
func binaryEqual(a, b string) bool {
	if a == b {
		return true
	}
	da, err1 := base64.StdEncoding.DecodeString(a)
	db, err2 := base64.StdEncoding.DecodeString(b)
	return err1 == nil && err2 == nil && string(da) == string(db)
}
