// Package inbrowser opens a page in headless Chromium, as the person who
// downloads a report does, and says what the browser made of it: what it
// requested beyond the page, what it complained of, what the page shows (a
// script's value) and how it looks (a full-page screenshot). The report's
// tests and the end-to-end suite judge pages with it.
package inbrowser

import (
	"context"
	"fmt"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Page is what the browser did with a page, and what script read from it.
type Page[T any] struct {
	// Requests are the URLs it requested but the page itself; Problems the
	// console messages, exceptions and log entries of level warning or error.
	Requests, Problems []string
	// Screenshot is the full page, as PNG.
	Screenshot []byte
	// Shown is the value of the script run once the page loaded.
	Shown T
}

// Start starts Chromium, the binary at bin, headless with a 1280 by 1000
// window, for the tabs Open opens; cancel stops it.
func Start(ctx context.Context, bin string) (browser context.Context, cancel func(), err error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // tests run as root, where Chromium's sandbox cannot start
		chromedp.WindowSize(1280, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	cancel = func() { cancelBrowser(); cancelAlloc() }
	if err := chromedp.Do(browser); err != nil { // starts the browser
		cancel()
		return nil, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return browser, cancel, nil
}

// Open opens url in a new tab of browser, takes its screenshot and runs
// script, a JavaScript expression whose value decodes into T.
func Open[T any](browser context.Context, url, script string) (Page[T], error) {
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	var mu sync.Mutex
	var page Page[T]
	if err := chromedp.Listen(tab, func(ev any) {
		// This runs in the tab's read loop: record, nothing more.
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.Request.URL != url {
				page.Requests = append(page.Requests, ev.Request.URL)
			}
		case *network.EventWebSocketCreated:
			page.Requests = append(page.Requests, ev.URL)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				page.Problems = append(page.Problems, "console."+string(ev.Type))
			}
		case *runtime.EventExceptionThrown:
			page.Problems = append(page.Problems, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				page.Problems = append(page.Problems, "log "+string(ev.Entry.Level)+": "+ev.Entry.Text)
			}
		}
	}); err != nil {
		return page, err
	}
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		return page, fmt.Errorf("open %s: %w", url, err)
	}
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		return page, fmt.Errorf("screenshot %s: %w", url, err)
	}
	shown, err := chromedp.Run(tab, chromedp.Evaluate[T](script))
	if err != nil {
		return page, fmt.Errorf("read %s: %w", url, err)
	}
	mu.Lock()
	defer mu.Unlock()
	page.Screenshot, page.Shown = shot, shown
	return page, nil
}
