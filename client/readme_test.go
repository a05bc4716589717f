package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/timefence/timefence/client"
)

// The Go program of the README, verbatim but for the server's address,
// against a server as the README's tour leaves it.
func Example_readme() {
	addr, stop := startTour()
	defer stop()
	ctx := context.Background()
	c, err := client.Dial(addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	// Run after the tour above: the example definitions are applied and the
	// history of user_stats is written.
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{42}, EventTime: time.Now(),
		Values: []any{7, 12.5, "DE", true}}})
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{42}},
		client.WithTimeout(100*time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("clicks of user 42:", res.Rows[0][0].Value)

	// A training-side read runs under a split: user 1 as production saw it on 7 January.
	jan7 := time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC)
	spine, err := client.NewSpine([]string{"user_id"}, [][]any{{1}}, []time.Time{jan7})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.GetHistorical(ctx, "train", []string{"user_stats:clicks"}, spine, func(rec arrow.Record) error {
		fmt.Println("clicks of user 1 on 7 January:", rec.Column(2).(*array.Int64).Value(0))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// A spine row past the split's cutoff is refused whole.
	march, err := client.NewSpine([]string{"user_id"}, [][]any{{1}}, []time.Time{time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		log.Fatal(err)
	}
	_, err = c.GetHistorical(ctx, "train", []string{"user_stats:clicks"}, march, func(arrow.Record) error { return nil })
	fmt.Println("refused by the guard:", errors.Is(err, client.ErrCutoffExceeded))
	// Output:
	// clicks of user 42: 7
	// clicks of user 1 on 7 January: 2
	// refused by the guard: true
}

// TestReadmeIsAnExample: the body of the README's Go program is the body of
// Example_readme, but for the address it dials.
func TestReadmeIsAnExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(readme, []byte("```go\npackage main\n"))
	if start < 0 {
		t.Fatal("README.md has no Go program")
	}
	prog := readme[start:]
	prog = prog[:bytes.Index(prog, []byte("\n```\n"))]
	_, body, ok := bytes.Cut(prog, []byte("func main() {\n"))
	if !ok || !bytes.HasSuffix(body, []byte("\n}")) {
		t.Fatalf("README.md's Go program has no main function ending the block")
	}
	body = bytes.TrimSuffix(body, []byte("}"))
	body = bytes.Replace(body, []byte(`client.Dial("localhost:7070")`), []byte("client.Dial(addr)"), 1)
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(self, append([]byte("\tdefer stop()\n"), body...)) {
		t.Fatalf("the README's Go program and Example_readme differ; make Example_readme's body the README's:\n%s", body)
	}
}
