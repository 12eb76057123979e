// Command catalog prints the normalized schema of a database (see
// dbtest.Catalog), for the golden dumps of a release's databases that
// scripts/release-fixture.sh writes:
//
//	go run ./internal/dbtest/catalog sqlite:///testdata/upgrade/daf2146.db
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/trafficctl/trafficctl/internal/dbtest"
	"github.com/trafficctl/trafficctl/pkg/store"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: catalog DATABASE_URL")
		os.Exit(2)
	}
	st, err := store.Open(context.Background(), os.Args[1])
	if err == nil {
		var text string
		text, err = dbtest.CatalogOf(st.DB())
		st.Close()
		fmt.Print(text)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}
