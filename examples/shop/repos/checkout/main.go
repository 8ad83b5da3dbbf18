// Command checkout turns a cart into an order: payment, shipping, confirmation.
package main

import "log"

func main() {
	log.Println("checkout: listening on :8080")
}
