package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/plugin/users"
)

func runKeys(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		fmt.Fprint(stderr, "usage: keyward keys list|rotate [store flags]\n")
		return flag.ErrHelp
	}
	cf := newConfigFlags("keys "+args[0], stderr, storeStringFlags, nil)
	admin, err := cf.openAdmin(ctx, args[1:], environ, stderr, nil)
	if err != nil {
		return err
	}
	defer admin.Close()
	if args[0] == "rotate" {
		if err := admin.RotateKeys(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "rotated: new signing keys are active; the previous ones stay published until every token they signed has expired")
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSTATUS")
	for _, k := range admin.Keys.Keys() {
		status := "active"
		if !k.RetiredAt.IsZero() {
			status = "retired " + k.RetiredAt.UTC().Format(time.RFC3339) + ", published until " + k.DeleteAfter.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.CreatedAt.UTC().Format(time.RFC3339), status)
	}
	return tw.Flush()
}

func runHashPassword(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return errors.New("hash-password: empty password on stdin")
	}
	h, err := users.HashPassword(pw)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, h)
	return nil
}
