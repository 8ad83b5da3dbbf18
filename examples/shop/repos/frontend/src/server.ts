// Storefront web server: renders pages from the catalog, cart and checkout APIs.
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 3000);
createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end("<h1>acme-shop</h1>");
}).listen(port);
