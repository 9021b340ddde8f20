package mockapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/simreset/simreset/batch/mockapi"
)

// put sends the documented reset call and prints the answer.
func put(url, key, iccid string) {
	req, err := http.NewRequest(http.MethodPut, url+"/mti/Sim/Reset", strings.NewReader(`{"ICCID": "`+iccid+`"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
}

func ExampleNewServer() {
	s := mockapi.NewServer(mockapi.Config{Org: "mti", APIKey: "abcdefgh123456"})
	defer s.Close()

	put(s.URL(), "abcdefgh123456", "8981100000000000000")
	fmt.Println("calls:", s.Calls("8981100000000000000"))
	// Output:
	// 200 {"Error":false,"StatusCode":200,"Message":"UpdateSuccess"}
	// calls: 1
}

// A Script makes one SIM fail twice before it succeeds, to test retries.
func ExampleConfig_script() {
	const iccid = "8981100000000000000"
	s := mockapi.NewServer(mockapi.Config{
		RetryAfter: "1",
		Script:     map[string][]int{iccid: {500, 503, 200}},
	})
	defer s.Close()

	for range 3 {
		put(s.URL(), "any-key", iccid)
	}
	fmt.Println("calls:", s.Calls(iccid), "successes:", s.Successes(iccid))
	// Output:
	// 500 {"Error":true,"StatusCode":500,"Message":"Internal Server Error"}
	// 503 {"Error":true,"StatusCode":503,"Message":"Service Unavailable"}
	// 200 {"Error":false,"StatusCode":200,"Message":"UpdateSuccess"}
	// calls: 3 successes: 1
}
