package batch

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults of the reset settings; main uses them as flag defaults.
const (
	DefaultBaseURL                = "https://link.monoz.io/api/v1"
	DefaultRate                   = 5.0
	DefaultBurst                  = 1
	DefaultWorkers                = 4
	DefaultRetries                = 4
	DefaultTimeout                = 30 * time.Second
	DefaultMaxWait                = 60 * time.Second
	DefaultMaxConsecutiveFailures = 20
	DefaultBackoffMin             = 500 * time.Millisecond
	DefaultBackoffMax             = 30 * time.Second
	// AuthFailuresToAbort is how many SIMs answered 401/403, with no success yet,
	// mean a wrong key rather than a few SIMs out of reach.
	AuthFailuresToAbort = 3
)

// ErrConfig is wrapped by every error about the settings of a run.
var ErrConfig = errors.New("config")

// Config is one reset run's settings. Zero values mean the defaults above, except
// Rate (0 = no limit) and MaxConsecutiveFailures (0 = breaker off), whose zero is
// a setting of its own; main fills them from the flags.
type Config struct {
	BaseURL string // API base, without /{org}/Sim/Reset; plain http only to loopback
	Org     string // organisation id; path-escaped into the URL
	APIKey  string // sent as X-API-Key; never logged

	Rate    float64       // attempts per second across the pool, retries included; 0 = no limit
	Burst   int           // limiter burst
	Workers int           // requests in flight at most
	Retries int           // retries after the first attempt
	Timeout time.Duration // one attempt's limit, answer body included
	MaxWait time.Duration // the longest Retry-After or backoff honoured

	BackoffMin time.Duration // first retry's wait before jitter
	BackoffMax time.Duration // the longest computed backoff

	MaxConsecutiveFailures int  // SIMs in a row failing with 5xx/transport errors that abort the run; 0 disables
	NoRetryUncertain       bool // do not retry an attempt that may have reached the API
}

func (c Config) withDefaults() Config {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	return c
}

// Validate checks what can be checked before any request: the key and
// organisation are there, and the base URL is https, or http to loopback only.
func (c Config) Validate() error {
	if strings.TrimSpace(c.APIKey) == "" {
		return fmt.Errorf("%w: no API key: set MONOZ_API_KEY or --api-key-file", ErrConfig)
	}
	if strings.ContainsAny(c.APIKey, "\r\n") {
		return fmt.Errorf("%w: the API key holds a line break", ErrConfig)
	}
	if c.Org == "" {
		return fmt.Errorf("%w: no organisation id: set --org or MONOZ_ORG_ID", ErrConfig)
	}
	if c.Org == "." || c.Org == ".." {
		return fmt.Errorf("%w: organisation id %q would change the URL path", ErrConfig, c.Org)
	}
	if c.Rate < 0 || c.Burst < 0 || c.Workers < 0 || c.Retries < 0 || c.MaxConsecutiveFailures < 0 {
		return fmt.Errorf("%w: --rate, --burst, --workers, --retries and --max-consecutive-failures cannot be negative", ErrConfig)
	}
	return CheckBaseURL(c.withDefaults().BaseURL)
}

// CheckBaseURL accepts https URLs, and plain http only to a loopback host, so the
// key never crosses a network in clear text.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%w: base URL %q is not an absolute URL", ErrConfig, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: base URL %q must not carry credentials, a query or a fragment", ErrConfig, u.Redacted())
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: base URL %q: plain http is allowed only to loopback (127.0.0.1, ::1, localhost); use https", ErrConfig, raw)
	default:
		return fmt.Errorf("%w: base URL %q: scheme must be https", ErrConfig, raw)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
