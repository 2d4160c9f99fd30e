package blobstore

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Environment variables that S3Config.FromEnv reads. An empty value counts
// as unset.
const (
	EnvS3Endpoint      = "MAILTRIAGE_S3_ENDPOINT"        // host[:port] of the S3 API, without a scheme
	EnvS3Bucket        = "MAILTRIAGE_S3_BUCKET"          // bucket name
	EnvS3Region        = "MAILTRIAGE_S3_REGION"          // region, such as eu-west-1
	EnvS3TLS           = "MAILTRIAGE_S3_TLS"             // true (the default) or false
	EnvS3AccessKey     = "MAILTRIAGE_S3_ACCESS_KEY"      // access key ID itself
	EnvS3AccessKeyFile = "MAILTRIAGE_S3_ACCESS_KEY_FILE" // file containing the access key ID
	EnvS3SecretKey     = "MAILTRIAGE_S3_SECRET_KEY"      // secret access key itself
	EnvS3SecretKeyFile = "MAILTRIAGE_S3_SECRET_KEY_FILE" // file containing the secret access key
	EnvS3SSE           = "MAILTRIAGE_S3_SSE"             // sse-s3 (the default) or sse-kms
	EnvS3KMSKeyID      = "MAILTRIAGE_S3_KMS_KEY_ID"      // KMS key ID for sse-kms
)

// Server-side encryption modes of S3Config.SSE.
const (
	// SSES3 encrypts objects with keys that the storage service manages
	// (x-amz-server-side-encryption: AES256).
	SSES3 = "sse-s3"
	// SSEKMS encrypts objects with the KMS key S3Config.KMSKeyID
	// (x-amz-server-side-encryption: aws:kms).
	SSEKMS = "sse-kms"
)

// DefaultS3Region is the region used when S3Config.Region is empty. Most
// S3-compatible servers, MinIO among them, accept it whatever their setup.
const DefaultS3Region = "us-east-1"

// S3Config are the settings of an S3 store. The access key and secret are
// never logged: String and LogValue leave them out.
type S3Config struct {
	// Endpoint is the host and optional port of the S3 API, such as
	// s3.eu-west-1.amazonaws.com or 127.0.0.1:9000, without a scheme.
	// Required.
	Endpoint string
	// Bucket is the bucket that contains the objects. It must exist. Required.
	Bucket string
	// Region is the bucket's region. Default DefaultS3Region.
	Region string
	// DisableTLS makes the store talk plain HTTP to Endpoint. Default
	// false, so HTTPS is used.
	DisableTLS bool

	// AccessKey is the access key ID. Set it or AccessKeyFile.
	AccessKey string
	// AccessKeyFile is a file containing the access key ID, read once by
	// NewS3. Surrounding white space is ignored.
	AccessKeyFile string
	// SecretKey is the secret access key. Set it or SecretKeyFile.
	SecretKey string
	// SecretKeyFile is a file containing the secret access key, read once
	// by NewS3. Surrounding white space is ignored.
	SecretKeyFile string

	// SSE is the server-side encryption requested on every Put: SSES3 or
	// SSEKMS. Default SSES3.
	SSE string
	// KMSKeyID is the KMS key of SSEKMS. Required with SSEKMS, unused
	// otherwise.
	KMSKeyID string

	// TempDir is the folder where PutStream spools a reader that cannot
	// seek, to hash it before the upload. Default os.TempDir().
	TempDir string
	// Transport carries the HTTP requests, for example with a custom CA
	// pool. Default: the minio-go default transport.
	Transport http.RoundTripper
}

// FromEnv overrides the settings of c with the MAILTRIAGE_S3_* environment
// variables that are set and not empty. It fails only when
// MAILTRIAGE_S3_TLS is not a boolean.
func (c *S3Config) FromEnv() error {
	if v := os.Getenv(EnvS3TLS); v != "" {
		enabled, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q is not a boolean: set it to true or false", EnvS3TLS, v)
		}
		c.DisableTLS = !enabled
	}

	for _, setting := range []struct {
		env    string
		target *string
	}{
		{EnvS3Endpoint, &c.Endpoint},
		{EnvS3Bucket, &c.Bucket},
		{EnvS3Region, &c.Region},
		{EnvS3AccessKey, &c.AccessKey},
		{EnvS3AccessKeyFile, &c.AccessKeyFile},
		{EnvS3SecretKey, &c.SecretKey},
		{EnvS3SecretKeyFile, &c.SecretKeyFile},
		{EnvS3SSE, &c.SSE},
		{EnvS3KMSKeyID, &c.KMSKeyID},
	} {
		if v := os.Getenv(setting.env); v != "" {
			*setting.target = v
		}
	}
	return nil
}

// String describes c without the access key and secret.
func (c S3Config) String() string {
	scheme := "https"
	if c.DisableTLS {
		scheme = "http"
	}
	return fmt.Sprintf("s3 bucket %q at %s://%s (region %q, encryption %s)", c.Bucket, scheme, c.Endpoint, c.region(), c.sse())
}

// LogValue returns the settings that are safe to log, without the access
// key and secret.
func (c S3Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("bucket", c.Bucket),
		slog.String("region", c.region()),
		slog.Bool("tls", !c.DisableTLS),
		slog.String("sse", c.sse()),
	)
}

// validate checks the settings that need no I/O.
func (c S3Config) validate() error {
	switch {
	case c.Endpoint == "":
		return fmt.Errorf("S3 endpoint is missing: set %s to the host[:port] of the S3 API", EnvS3Endpoint)
	case strings.Contains(c.Endpoint, "://") || strings.Contains(c.Endpoint, "/"):
		return fmt.Errorf("invalid S3 endpoint %q: give only host[:port], without a scheme or path, and set %s=false for plain HTTP", c.Endpoint, EnvS3TLS)
	case c.Bucket == "":
		return fmt.Errorf("S3 bucket is missing: set %s", EnvS3Bucket)
	case c.AccessKey != "" && c.AccessKeyFile != "":
		return fmt.Errorf("both %s and %s are set: keep one", EnvS3AccessKey, EnvS3AccessKeyFile)
	case c.SecretKey != "" && c.SecretKeyFile != "":
		return fmt.Errorf("both %s and %s are set: keep one", EnvS3SecretKey, EnvS3SecretKeyFile)
	}

	switch c.sse() {
	case SSES3:
	case SSEKMS:
		if c.KMSKeyID == "" {
			return fmt.Errorf("S3 encryption %s needs a KMS key ID: set %s", SSEKMS, EnvS3KMSKeyID)
		}
	default:
		return fmt.Errorf("invalid S3 encryption %q: set %s to %s or %s", c.SSE, EnvS3SSE, SSES3, SSEKMS)
	}
	return nil
}

// credentials returns the access key and secret, reading the files that are
// set. Neither value appears in an error.
func (c S3Config) credentials() (accessKey, secretKey string, err error) {
	accessKey, err = valueOrFile(c.AccessKey, c.AccessKeyFile, "S3 access key", EnvS3AccessKey, EnvS3AccessKeyFile)
	if err != nil {
		return "", "", err
	}
	secretKey, err = valueOrFile(c.SecretKey, c.SecretKeyFile, "S3 secret key", EnvS3SecretKey, EnvS3SecretKeyFile)
	if err != nil {
		return "", "", err
	}
	return accessKey, secretKey, nil
}

func valueOrFile(value, file, what, valueEnv, fileEnv string) (string, error) {
	if value != "" {
		return value, nil
	}
	if file == "" {
		return "", fmt.Errorf("%s is missing: set %s, or %s to a file containing it", what, valueEnv, fileEnv)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		// The error of os.ReadFile names the file, never its content.
		return "", fmt.Errorf("reading the %s: %w", what, err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("reading the %s: %s is empty", what, file)
	}
	return v, nil
}

func (c S3Config) region() string {
	if c.Region == "" {
		return DefaultS3Region
	}
	return c.Region
}

func (c S3Config) sse() string {
	if c.SSE == "" {
		return SSES3
	}
	return strings.ToLower(c.SSE)
}
