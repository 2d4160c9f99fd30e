package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/topics"
)

func init() {
	register("topics", "Create the Kafka topics of the topology, or check existing ones", runTopics)
}

func runTopics(ctx context.Context, args []string) error {
	const usage = "usage: mailtriage topics create|check [--brokers host:port,...] [--partitions N] [--replication N]"
	if len(args) == 0 {
		return errors.New("missing action: " + usage)
	}
	action := args[0]
	if action == "-h" || action == "--help" || action == "help" {
		fmt.Println(usage)
		return flag.ErrHelp
	}
	if action != "create" && action != "check" {
		return fmt.Errorf("unknown action %q: %s", action, usage)
	}

	fs := flag.NewFlagSet("topics "+action, flag.ContinueOnError)
	brokers := fs.String("brokers", "localhost:9092", "comma-separated Kafka bootstrap brokers as host:port")
	partitions := fs.Int("partitions", 6, "partition count of every topic; the dedupe changelog must match the inbound topic")
	replication := fs.Int("replication", 3, "replication factor of every topic; -1 takes the broker default")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), usage)
	}
	seeds := splitList(*brokers)
	if len(seeds) == 0 {
		return errors.New("missing --brokers: pass the Kafka bootstrap brokers as host:port")
	}
	if *partitions < 1 || *partitions > 1<<20 {
		return fmt.Errorf("invalid --partitions %d: use a count from 1 to %d", *partitions, 1<<20)
	}
	if *replication == 0 || *replication < -1 || *replication > 1<<15-1 {
		return fmt.Errorf("invalid --replication %d: use 1 or more, or -1 for the broker default", *replication)
	}

	client, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return fmt.Errorf("connecting to Kafka at %v: %w", seeds, err)
	}
	defer client.Close()
	adm := kadm.NewClient(client)

	specs := topics.Specs(int32(*partitions), int16(*replication))
	if action == "create" {
		err = topics.Ensure(ctx, adm, specs)
	} else {
		err = topics.Check(ctx, adm, specs)
	}
	if err != nil {
		return err
	}
	for _, s := range specs {
		fmt.Printf("ok  %-45s partitions=%d cleanup.policy=%s\n", s.Name, s.Partitions, s.CleanupPolicy())
	}
	return nil
}
