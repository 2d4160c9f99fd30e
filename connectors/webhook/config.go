package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"mailtriage/internal/ingest"
)

// Defaults of Config.
const (
	DefaultTolerance       = 5 * time.Minute
	DefaultMaxBodyBytes    = 25 << 20
	DefaultRetryCacheItems = 100_000
	DefaultRetryAfter      = 5 * time.Second
	DefaultPublishTimeout  = 30 * time.Second

	// MinSecretBytes is the shortest signing secret accepted. A shorter
	// HMAC key can be guessed offline from one signed request.
	MinSecretBytes = 16
)

// Config is the configuration of the gateway. Build it with LoadConfig or
// fill it in code; New applies the defaults and validates it.
type Config struct {
	// Tenants maps each tenant that may post to its signing secrets. A
	// request for a tenant missing here gets 404.
	Tenants map[string]Tenant
	// Tolerance is how far X-Parse-Timestamp may be from the gateway's
	// clock, in the past or the future. Default 5 minutes.
	Tolerance time.Duration
	// MaxBodyBytes is the largest request body accepted; a larger one gets
	// 413. Default 25 MiB.
	MaxBodyBytes int64
	// RetryWindow is how long an accepted message ID or body digest is
	// remembered, so that a retry of it gets 202 without a second record. Default Tolerance.
	RetryWindow time.Duration
	// RetryCacheItems bounds the remembered keys; the oldest are dropped
	// first. Each accepted request takes two or three. Default 100000.
	RetryCacheItems int
	// RetryAfter is the Retry-After of a 503. Default 5 seconds.
	RetryAfter time.Duration
	// PublishTimeout bounds how long one request waits for Kafka,
	// independently of the client connection. Default 30 seconds.
	PublishTimeout time.Duration
	// Downloads configures fetching JSON attachments from their
	// downloadUrl. Default off.
	Downloads Downloads
	// Now returns the current time. Default time.Now; tests set it.
	Now func() time.Time
}

// Tenant holds the signing secrets of one tenant. A request is authentic
// when any of them verifies it, so that a new secret can be added before
// the sender switches to it and the old one removed afterwards.
type Tenant struct {
	Secrets [][]byte
}

// configFile is the YAML layout that LoadConfig reads.
type configFile struct {
	Tenants         map[string]tenantFile `yaml:"tenants"`
	Tolerance       time.Duration         `yaml:"tolerance"`
	MaxBodyBytes    int64                 `yaml:"max-body-bytes"`
	RetryWindow     time.Duration         `yaml:"retry-window"`
	RetryCacheItems int                   `yaml:"retry-cache-items"`
	RetryAfter      time.Duration         `yaml:"retry-after"`
	PublishTimeout  time.Duration         `yaml:"publish-timeout"`
	Downloads       downloadsFile         `yaml:"downloads"`
	// Kafka is the section that kafkaconfig.LoadFile reads; it is skipped
	// here so that one file can configure the whole role.
	Kafka yaml.Node `yaml:"kafka"`
}

type tenantFile struct {
	Secrets     []string `yaml:"secrets"`
	SecretFiles []string `yaml:"secret-files"`
	SecretEnv   []string `yaml:"secret-env"`
}

// LoadConfig reads the gateway settings from the YAML file at path:
//
//	tenants:
//	  acme:
//	    secrets: ["inline secret"]                # visible to anyone who reads the file
//	    secret-files: [/run/secrets/acme-webhook] # one secret per file, trailing newline ignored
//	    secret-env: [ACME_WEBHOOK_SECRET]         # name of an environment variable
//	tolerance: 5m
//	max-body-bytes: 26214400
//	retry-window: 5m
//	retry-cache-items: 100000
//	retry-after: 5s
//	publish-timeout: 30s
//	kafka: {…}                                    # read by kafkaconfig.LoadFile
//
// Only tenants is required. A tenant may list several secrets in any mix
// of the three forms, all accepted at once. lookupEnv reads the variables
// named by secret-env; pass os.LookupEnv. An unknown key is an error.
// Errors name the tenant and the source of a bad secret, never its value.
func LoadConfig(path string, lookupEnv func(string) (string, bool)) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading the gateway config: %w", err)
	}

	var file configFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return Config{}, fmt.Errorf("parsing the gateway config %s: %w: the keys are tenants (each with secrets, secret-files, secret-env), tolerance, max-body-bytes, retry-window, retry-cache-items, retry-after, publish-timeout and kafka", path, err)
	}

	cfg := Config{
		Tenants:         make(map[string]Tenant, len(file.Tenants)),
		Tolerance:       file.Tolerance,
		MaxBodyBytes:    file.MaxBodyBytes,
		RetryWindow:     file.RetryWindow,
		RetryCacheItems: file.RetryCacheItems,
		RetryAfter:      file.RetryAfter,
		PublishTimeout:  file.PublishTimeout,
		Downloads:       file.Downloads.config(),
	}
	for name, t := range file.Tenants {
		secrets, err := t.load(name, lookupEnv)
		if err != nil {
			return Config{}, fmt.Errorf("gateway config %s: %w", path, err)
		}
		cfg.Tenants[name] = Tenant{Secrets: secrets}
	}
	if err := cfg.withDefaults().validate(); err != nil {
		return Config{}, fmt.Errorf("gateway config %s: %w", path, err)
	}
	return cfg, nil
}

// load collects the secrets of tenant from the three sources.
func (t tenantFile) load(tenant string, lookupEnv func(string) (string, bool)) ([][]byte, error) {
	var secrets [][]byte
	for i, s := range t.Secrets {
		if err := checkSecret([]byte(s)); err != nil {
			return nil, fmt.Errorf("tenant %q, secrets[%d]: %w", tenant, i, err)
		}
		secrets = append(secrets, []byte(s))
	}

	for _, path := range t.SecretFiles {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: reading secret file: %w", tenant, err)
		}
		data = bytes.TrimSuffix(bytes.TrimSuffix(data, []byte("\n")), []byte("\r"))
		if err := checkSecret(data); err != nil {
			return nil, fmt.Errorf("tenant %q, secret file %s: %w", tenant, path, err)
		}
		secrets = append(secrets, data)
	}

	for _, name := range t.SecretEnv {
		value, ok := lookupEnv(name)
		if !ok {
			return nil, fmt.Errorf("tenant %q: environment variable %s is not set: export it or remove it from secret-env", tenant, name)
		}
		if err := checkSecret([]byte(value)); err != nil {
			return nil, fmt.Errorf("tenant %q, environment variable %s: %w", tenant, name, err)
		}
		secrets = append(secrets, []byte(value))
	}
	return secrets, nil
}

func checkSecret(secret []byte) error {
	if len(secret) < MinSecretBytes {
		return fmt.Errorf("the secret has %d bytes: use at least %d random bytes", len(secret), MinSecretBytes)
	}
	return nil
}

// withDefaults returns a copy of c with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.Tolerance <= 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.RetryWindow <= 0 {
		c.RetryWindow = c.Tolerance
	}
	if c.RetryCacheItems <= 0 {
		c.RetryCacheItems = DefaultRetryCacheItems
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate checks the tenants; the durations and sizes have their
// defaults by then.
func (c Config) validate() error {
	if len(c.Tenants) == 0 {
		return errors.New("no tenants: add a tenants mapping with at least one tenant and its secrets")
	}
	for _, name := range c.TenantNames() {
		if err := ingest.ValidateTenant(name); err != nil {
			return err
		}
		t := c.Tenants[name]
		if len(t.Secrets) == 0 {
			return fmt.Errorf("tenant %q has no secret: add secrets, secret-files or secret-env", name)
		}
		for i, s := range t.Secrets {
			if err := checkSecret(s); err != nil {
				return fmt.Errorf("tenant %q, secret %d: %w", name, i, err)
			}
		}
	}
	return nil
}

// TenantNames returns the configured tenants in sorted order.
func (c Config) TenantNames() []string {
	names := make([]string, 0, len(c.Tenants))
	for name := range c.Tenants {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// String describes c for logs: the tenants with their secret counts and
// the limits, never a secret.
func (c Config) String() string {
	var tenants []string
	for _, name := range c.TenantNames() {
		tenants = append(tenants, fmt.Sprintf("%s(%d secrets)", name, len(c.Tenants[name].Secrets)))
	}
	return fmt.Sprintf("tenants=[%s] tolerance=%s max-body-bytes=%d retry-window=%s",
		strings.Join(tenants, " "), c.Tolerance, c.MaxBodyBytes, c.RetryWindow)
}
