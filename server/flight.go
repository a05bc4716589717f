package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
)

// flightServer serves Arrow Flight on the same gRPC server. Commands are
// JSON objects in the descriptor's cmd, with "op" naming the operation:
//
//	DoExchange {"op": "historical", ...}  spine in, point-in-time join out
//	DoPut      {"op": "write", ...}       a table in, written as one batch
//	DoGet      {"op": "export", ...}      a view's versions within a split out
//	DoGet      {"op": "serving_log", ...} logged lookups within a split out
//
// See docs/flight.md for every field.
type flightServer struct {
	flight.BaseFlightServer
	s *Server
}

var _ flight.FlightServer = (*flightServer)(nil)

// parseCommand decodes the descriptor's JSON command into v after checking
// that its "op" is want. Field names match exactly: an unknown field (a typo,
// or a name in another case) or a repeated one is refused, not silently
// ignored or overridden.
func parseCommand(desc *flight.FlightDescriptor, want string, v any) error {
	if desc == nil || desc.GetType() != flight.DescriptorCMD || len(desc.GetCmd()) == 0 {
		return invalid(fmt.Sprintf("flight descriptor: expected a CMD descriptor holding a JSON command, e.g. {\"op\": %q, ...}", want))
	}
	fields, order, err := commandFields(desc.GetCmd())
	if err != nil {
		return invalid(fmt.Sprintf("flight command: %v", err))
	}
	var op string
	if raw, ok := fields["op"]; !ok || json.Unmarshal(raw, &op) != nil || op != want {
		return invalid(fmt.Sprintf("flight command: op %s: this call takes %q", cmp.Or(string(raw), "missing"), want))
	}
	known := jsonNames(reflect.TypeOf(v).Elem())
	for _, name := range order {
		if !slices.Contains(known, name) {
			return invalid(fmt.Sprintf("flight command: unknown field %q; the fields of %q are %s", name, want, strings.Join(known, ", ")))
		}
	}
	dec := json.NewDecoder(bytes.NewReader(desc.GetCmd()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid(fmt.Sprintf("flight command: field %q: expected %s, got a JSON %s", te.Field, jsonKind(te.Type), te.Value))
		}
		return invalid(fmt.Sprintf("flight command: %v", err))
	}
	return nil
}

// jsonKind names what a command field of type t takes, in JSON's words.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		_, item, _ := strings.Cut(jsonKind(t.Elem()), " ")
		return "an array of " + item + "s"
	}
	return "a " + t.Kind().String()
}

// commandFields splits a JSON object into its fields, also returned in
// order, refusing a field that appears twice and anything after the object.
func commandFields(cmd []byte) (map[string]json.RawMessage, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(cmd))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	var order []string
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("not JSON: %v", err)
		}
		name := tok.(string) // an object's keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("field %q: not JSON: %v", name, err)
		}
		if _, dup := fields[name]; dup {
			return nil, nil, fmt.Errorf("field %q appears twice", name)
		}
		fields[name] = raw
		order = append(order, name)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("unexpected data after the JSON object")
	}
	return fields, order, nil
}

// jsonNames returns the JSON field names of a command struct.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// openStream reads the first message of an incoming Arrow stream: the
// descriptor and the schema.
func openStream(stream flight.DataStreamReader) (*flight.Reader, error) {
	alloc := &boundedAllocator{}
	var rdr *flight.Reader
	err := safely(func() (err error) {
		rdr, err = flight.NewRecordReader(checkedStream{stream, alloc}, ipc.WithAllocator(alloc))
		return err
	})
	if err != nil {
		return nil, invalid(fmt.Sprintf("arrow stream: cannot read the schema: %v", err))
	}
	return rdr, nil
}

func (f *flightServer) DoExchange(stream flight.FlightService_DoExchangeServer) error {
	rdr, err := openStream(stream)
	if err != nil {
		return toStatus(err)
	}
	defer rdr.Release()
	var cmd historicalCmd
	if err := parseCommand(rdr.LatestFlightDescriptor(), "historical", &cmd); err != nil {
		return toStatus(err)
	}
	if err := f.s.awaitWatermark(stream.Context(), cmd.MinWatermark); err != nil {
		return toStatus(err)
	}
	return toStatus(f.s.work.low(func() error { return f.s.historical(stream.Context(), cmd, rdr, stream) }))
}

func (f *flightServer) DoGet(t *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	var op struct {
		Op string `json:"op"`
	}
	if json.Unmarshal(t.GetTicket(), &op) == nil && op.Op == "serving_log" {
		var cmd logCmd
		if err := parseCommand(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: t.GetTicket()}, "serving_log", &cmd); err != nil {
			return toStatus(err)
		}
		return toStatus(f.s.work.low(func() error { return f.s.servingLogTable(stream.Context(), cmd, stream) }))
	}
	var cmd exportCmd
	if err := parseCommand(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: t.GetTicket()}, "export", &cmd); err != nil {
		return toStatus(err)
	}
	if err := f.s.awaitWatermark(stream.Context(), cmd.MinWatermark); err != nil {
		return toStatus(err)
	}
	return toStatus(f.s.work.low(func() error { return f.s.export(stream.Context(), cmd, stream) }))
}

func (f *flightServer) DoPut(stream flight.FlightService_DoPutServer) error {
	rdr, err := openStream(stream)
	if err != nil {
		return toStatus(err)
	}
	defer rdr.Release()
	var cmd writeCmd
	if err := parseCommand(rdr.LatestFlightDescriptor(), "write", &cmd); err != nil {
		return toStatus(err)
	}
	rep := newReporter(cmd.Progress, func(meta []byte) error { return stream.Send(&flight.PutResult{AppMetadata: meta}) })
	defer rep.stop()
	res, err := f.s.bulkWrite(stream.Context(), cmd, rdr, rep)
	if err != nil {
		return toStatus(err)
	}
	meta, err := json.Marshal(res)
	if err != nil {
		return toStatus(err)
	}
	rep.stop()
	return stream.Send(&flight.PutResult{AppMetadata: meta})
}
