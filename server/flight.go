package server

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
)

// flightServer serves Arrow Flight on the same gRPC server. Commands are
// JSON objects in the descriptor's cmd, with "op" naming the operation:
//
//	DoExchange {"op": "historical", ...}  spine in, point-in-time join out
//	DoPut      {"op": "write", ...}       a table in, written as one batch
//	DoGet      {"op": "export", ...}      a view's versions within a split out
//
// See docs/flight.md for every field.
type flightServer struct {
	flight.BaseFlightServer
	s *Server
}

var _ flight.FlightServer = (*flightServer)(nil)

// parseCommand decodes the descriptor's JSON command into v after checking
// that its "op" is want. Unknown fields are refused, so a typo is an error,
// not a silently ignored option.
func parseCommand(desc *flight.FlightDescriptor, want string, v any) error {
	if desc == nil || desc.GetType() != flight.DescriptorCMD || len(desc.GetCmd()) == 0 {
		return invalid(fmt.Sprintf("flight descriptor: expected a CMD descriptor holding a JSON command, e.g. {\"op\": %q, ...}", want))
	}
	var c struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(desc.GetCmd(), &c); err != nil {
		return invalid(fmt.Sprintf("flight command: not JSON: %v", err))
	}
	if c.Op != want {
		return invalid(fmt.Sprintf("flight command: op %q: this call takes %q", c.Op, want))
	}
	dec := json.NewDecoder(bytes.NewReader(desc.GetCmd()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(fmt.Sprintf("flight command: %v", err))
	}
	return nil
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
	return toStatus(f.s.historical(stream.Context(), cmd, rdr, stream))
}

func (f *flightServer) DoGet(t *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	var cmd exportCmd
	if err := parseCommand(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: t.GetTicket()}, "export", &cmd); err != nil {
		return toStatus(err)
	}
	return toStatus(f.s.export(stream.Context(), cmd, stream))
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
	res, err := f.s.bulkWrite(stream.Context(), cmd, rdr)
	if err != nil {
		return toStatus(err)
	}
	meta, err := json.Marshal(res)
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(&flight.PutResult{AppMetadata: meta})
}
