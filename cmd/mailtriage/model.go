package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"mailtriage/internal/model"
)

func init() {
	register("model", "Train and evaluate the intent classifier for mail that no rule matches, or export feedback as training data (train, eval, export-feedback)", runModel)
}

func runModel(ctx context.Context, args []string) error {
	return modelCommand(ctx, args, os.Stdout)
}

// modelCommand runs `mailtriage model SUBCOMMAND` and prints to out.
func modelCommand(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(out, "usage: mailtriage model train --data FILE --text-col NAME --label-col NAME --out FILE [flags]")
		fmt.Fprintln(out, "       mailtriage model eval --model FILE --data FILE --text-col NAME --label-col NAME [--json]")
		fmt.Fprintln(out, "       mailtriage model export-feedback --brokers HOST:PORT --out FILE [flags]")
		fmt.Fprintln(out, `Run "mailtriage model SUBCOMMAND -h" for the flags of one subcommand.`)
		if len(args) == 0 {
			return &usageError{err: errors.New("missing subcommand")}
		}
		return nil
	}
	switch args[0] {
	case "train":
		return modelTrain(ctx, args[1:], out)
	case "eval":
		return modelEval(args[1:], out)
	case "export-feedback":
		return exportFeedback(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown subcommand %q: use train, eval or export-feedback", args[0])
}

// dataFlags are the flags that name labeled data.
type dataFlags struct {
	path, format, textCol, labelCol string
}

func (d *dataFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&d.path, "data", "", "labeled data `file`, CSV with a header row or JSONL with one object per line")
	fs.StringVar(&d.format, "format", "", "data `format`, csv or jsonl; empty picks it from the extension of --data")
	fs.StringVar(&d.textCol, "text-col", "text", "CSV column or JSON key of the text")
	fs.StringVar(&d.labelCol, "label-col", "label", "CSV column or JSON key of the label")
}

func (d *dataFlags) read() ([]model.Example, error) {
	if d.path == "" {
		return nil, errors.New("--data is missing: name a CSV or JSONL file of labeled text")
	}
	if d.format != "" && d.format != model.FormatCSV && d.format != model.FormatJSONL {
		return nil, fmt.Errorf("invalid --format %q: use csv or jsonl", d.format)
	}
	return model.ReadExamples(model.DataSource{Path: d.path, Format: d.format, TextColumn: d.textCol, LabelColumn: d.labelCol})
}

// modelTrain runs `mailtriage model train`.
func modelTrain(ctx context.Context, args []string, out io.Writer) error {
	features := model.DefaultFeatureConfig()
	training := model.DefaultTrainConfig()
	var data dataFlags
	var outPath, holdoutPath string
	var validation float64

	fs := flag.NewFlagSet("model train", flag.ContinueOnError)
	data.add(fs)
	fs.StringVar(&outPath, "out", "", "model `file` to write")
	fs.Float64Var(&validation, "validation", 0.1, "`fraction` of each label's rows held out for validation, from 0 to below 1; 0 trains on every row")
	fs.StringVar(&holdoutPath, "holdout-out", "", "write the held-out rows to this CSV or JSONL `file`, for `mailtriage model eval`")
	fs.Uint64Var(&training.Seed, "seed", training.Seed, "random `seed` of the validation split and the training order")
	fs.IntVar(&training.Epochs, "epochs", training.Epochs, "passes over the training rows")
	fs.Float64Var(&training.LearningRate, "learning-rate", training.LearningRate, "AdaGrad base step `size`")
	fs.Float64Var(&training.L2, "l2", training.L2, "L2 penalty on the weights of the features each row contains")
	fs.StringVar(&training.Date, "date", training.Date, "training `date` YYYY-MM-DD that starts the model version; default today in UTC")
	fs.IntVar(&features.HashBits, "hash-bits", features.HashBits, "log2 of the number of feature hash buckets, from 10 to 24")
	fs.IntVar(&features.WordNgrams, "word-ngrams", features.WordNgrams, "longest word n-gram, 1 to 3")
	fs.IntVar(&features.CharMin, "char-min", features.CharMin, "shortest character n-gram inside a word")
	fs.IntVar(&features.CharMax, "char-max", features.CharMax, "longest character n-gram inside a word; 0 turns them off")
	fs.BoolVar(&features.CharAcrossWords, "char-across-words", features.CharAcrossWords, "take character n-grams across word boundaries; false keeps them inside each word")
	fs.BoolVar(&features.IDF, "idf", features.IDF, "scale features by their inverse document frequency")
	fs.IntVar(&features.MinDF, "min-df", features.MinDF, "drop features found in fewer training rows than this `count`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: mailtriage model train takes only flags", fs.Arg(0))
	}
	if outPath == "" {
		return errors.New("--out is missing: name the model file to write, such as model.bin")
	}

	examples, err := data.read()
	if err != nil {
		return err
	}
	trainSet, holdout, err := model.Split(examples, validation, training.Seed)
	if err != nil {
		return fmt.Errorf("--validation: %w", err)
	}
	fmt.Fprintf(out, "read %d rows from %s; training on %d, validating on %d (seed %d)\n",
		len(examples), data.path, len(trainSet), len(holdout), training.Seed)
	if err := ctx.Err(); err != nil {
		return err
	}

	start := time.Now()
	c, err := model.Train(trainSet, features, training)
	if err != nil {
		return fmt.Errorf("training on %s: %w", data.path, err)
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "trained %d labels in %s (%d epochs)\n", len(c.Labels), elapsed.Round(time.Millisecond), training.Epochs)

	if len(holdout) > 0 {
		m := c.EvaluateExamples(holdout)
		fmt.Fprintf(out, "validation accuracy %.4f, macro-F1 %.4f on %d rows\n", m.Accuracy, m.MacroF1, m.Examples)
	}
	if holdoutPath != "" {
		if err := model.WriteExamples(holdoutPath, "", data.textCol, data.labelCol, holdout); err != nil {
			return fmt.Errorf("--holdout-out: %w", err)
		}
		fmt.Fprintf(out, "wrote %d held-out rows to %s\n", len(holdout), holdoutPath)
	}
	if err := c.Save(outPath); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote model %s to %s\n", c.Version, outPath)
	return nil
}

// evalReport is the output of `mailtriage model eval --json`.
type evalReport struct {
	Model        string `json:"model"`
	ModelVersion string `json:"modelVersion"`
	Data         string `json:"data"`
	model.Metrics
}

// modelEval runs `mailtriage model eval`.
func modelEval(args []string, out io.Writer) error {
	var data dataFlags
	var modelPath string
	var asJSON bool
	var confusions int

	fs := flag.NewFlagSet("model eval", flag.ContinueOnError)
	data.add(fs)
	fs.StringVar(&modelPath, "model", "", "model `file` that `mailtriage model train` wrote")
	fs.BoolVar(&asJSON, "json", false, "print the metrics as one JSON object")
	fs.IntVar(&confusions, "confusions", 10, "number of most frequent confusion pairs in the table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: mailtriage model eval takes only flags", fs.Arg(0))
	}
	if modelPath == "" {
		return errors.New("--model is missing: name the model file that `mailtriage model train` wrote")
	}

	c, err := model.Load(modelPath)
	if err != nil {
		return err
	}
	examples, err := data.read()
	if err != nil {
		return err
	}
	report := evalReport{Model: modelPath, ModelVersion: c.Version, Data: data.path, Metrics: c.EvaluateExamples(examples)}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return writeEvalTable(out, report, confusions)
}

// writeEvalTable prints the metrics as aligned text.
func writeEvalTable(out io.Writer, r evalReport, confusions int) error {
	fmt.Fprintf(out, "model %s on %s: %d rows\n", r.ModelVersion, r.Data, r.Examples)
	fmt.Fprintf(out, "accuracy %.4f, macro-F1 %.4f\n\n", r.Accuracy, r.MacroF1)

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "label\tprecision\trecall\tF1\tsupport\t")
	for _, l := range r.Labels {
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%d\t\n", l.Label, l.Precision, l.Recall, l.F1, l.Support)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(r.Confusions) == 0 || confusions <= 0 {
		return nil
	}
	fmt.Fprintln(out, "\nmost frequent confusions (gold -> predicted):")
	for _, c := range r.Confusions[:min(confusions, len(r.Confusions))] {
		fmt.Fprintf(out, "  %4d  %s -> %s\n", c.Count, c.Gold, c.Predicted)
	}
	return nil
}
