// Package jsoncheck vets a JSON document before it is decoded: it refuses
// duplicate object members, numbers beyond the range of a double, nesting
// deeper than a bound and more members or elements than a bound.
//
// encoding/json keeps the last of duplicate members silently, so two
// parties reading the same document may disagree on its meaning (RFC 8259
// §4: names "SHOULD be unique"; RFC 7493 §2.3 makes it a MUST); and its
// decoder recurses on nesting, so depth and size are bounded here, by
// walking the tokens, before any struct is filled. A number that no
// IEEE 754 double can hold is outside I-JSON (RFC 7493 §2.2) and fails
// every decoder that reads into float64 or any, so it is refused here with
// its path rather than later with a decoder's message.
package jsoncheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Default bounds for the integration APIs' request bodies.
const (
	DefaultMaxDepth  = 32
	DefaultMaxValues = 10000
)

// Limits bound a document; zero fields take the defaults.
type Limits struct {
	// MaxDepth bounds the nesting of objects and arrays.
	MaxDepth int
	// MaxValues bounds the object members plus array elements of the whole
	// document.
	MaxValues int
}

// Error is a refused document. Path names where, as a JSON Pointer
// (RFC 6901) to the offending member or container.
type Error struct {
	Reason string
	Path   string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s at %s", e.Reason, e.Path)
}

// ErrSyntax wraps the decoder's error for malformed JSON, which callers
// usually report in their own words.
var ErrSyntax = errors.New("malformed JSON")

type frame struct {
	object bool
	keys   map[string]struct{}
	// name of the member or index of the element being read.
	name   string
	index  int
	expect bool // object: the next token is a member name or '}'
}

// Check walks data. It returns nil for a document within the limits,
// *Error for a duplicate member or a bound exceeded, and an error wrapping
// ErrSyntax for malformed JSON or trailing data.
func Check(data []byte, lim Limits) error {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxValues <= 0 {
		lim.MaxValues = DefaultMaxValues
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	values := 0
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			b.WriteByte('/')
			if f.object {
				b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(f.name))
			} else {
				b.WriteString(strconv.Itoa(f.index))
			}
		}
		return b.String()
	}
	tooMany := func() error {
		return &Error{Reason: fmt.Sprintf("more than %d members and elements", lim.MaxValues)}
	}
	// done is called after each complete value: in an object, a member
	// name comes next.
	done := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expect = true
		}
	}
	top := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 || top == 0 {
				return fmt.Errorf("%w: unexpected end", ErrSyntax)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		var cur *frame
		if n := len(stack); n > 0 {
			cur = stack[n-1]
		} else if top++; top > 1 {
			return fmt.Errorf("%w: data after the document", ErrSyntax)
		}
		d, isDelim := tok.(json.Delim)
		if cur != nil && cur.object && cur.expect {
			if isDelim && d == '}' {
				stack = stack[:len(stack)-1]
				done()
				continue
			}
			name, ok := tok.(string)
			if !ok {
				return fmt.Errorf("%w: member name expected", ErrSyntax)
			}
			cur.name = name
			if _, dup := cur.keys[name]; dup {
				return &Error{Reason: "duplicate member " + strconv.Quote(name), Path: path()}
			}
			if values++; values > lim.MaxValues {
				return tooMany()
			}
			cur.keys[name] = struct{}{}
			cur.expect = false
			continue
		}
		if isDelim && d == ']' {
			stack = stack[:len(stack)-1]
			done()
			continue
		}
		// The start of a value.
		if cur != nil && !cur.object {
			cur.index++
			if values++; values > lim.MaxValues {
				return tooMany()
			}
		}
		if isDelim && (d == '{' || d == '[') {
			if len(stack) >= lim.MaxDepth {
				return &Error{Reason: fmt.Sprintf("nested deeper than %d levels", lim.MaxDepth), Path: path()}
			}
			f := &frame{object: d == '{', index: -1}
			if f.object {
				f.keys, f.expect = map[string]struct{}{}, true
			}
			stack = append(stack, f)
			continue
		}
		if num, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseFloat(string(num), 64); err != nil {
				return &Error{Reason: "number out of range", Path: path()}
			}
		}
		done()
	}
}
