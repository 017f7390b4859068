/* openapi.c — the OpenAPI 3 description served at GET /openapi.json. */
#include "server/server_internal.h"

/* The long-document members of every request (api_long.c) and the winning
 * window in a result. */
#define RR_OPENAPI_LONG_DOCS                                                                                          \
    ",\"long_docs\":{\"type\":\"string\",\"enum\":[\"truncate\",\"chunk\"],\"description\":\"a document "   \
    "longer than the room the query leaves: cut it, or score windows of its tokens and keep the best (absent: "      \
    "--long-docs; any chunk member below asks for chunk)\"},"                                                        \
    "\"chunk_tokens\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":8192,\"description\":\"document "       \
    "tokens per window (absent: --chunk-tokens; 0 there: the room)\"},"                                             \
    "\"chunk_overlap\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"tokens neighbouring windows "       \
    "share, below the window\"},"                                                                                   \
    "\"max_chunks_per_doc\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1024,\"description\":\"Cohere v1: "  \
    "windows scored per document (the rest is not scored); asks for chunk\"},"                                     \
    "\"max_tokens_per_doc\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"Cohere v2: cut every "          \
    "document to this many tokens first\"}"
#define RR_OPENAPI_CHUNK                                                                                              \
    ",\"chunk\":{\"type\":\"integer\",\"description\":\"when chunked: the best window\"},"                          \
    "\"chunks\":{\"type\":\"integer\"},\"token_start\":{\"type\":\"integer\"},\"token_end\":{\"type\":\"integer\"}," \
    "\"doc_tokens\":{\"type\":\"integer\"}"

const char rr_openapi_json[] =
    "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"rerank\",\"description\":\"Cross-encoder reranking server "
    "(TEI, Cohere and Jina compatible).\",\"version\":\"" RERANK_VERSION "\"},"
    "\"components\":{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"}},\"schemas\":{"
    "\"Error\":{\"type\":\"object\",\"properties\":{\"error\":{\"type\":\"object\",\"properties\":{"
    "\"message\":{\"type\":\"string\"},\"type\":{\"type\":\"string\",\"enum\":[\"validation\",\"unauthorized\","
    "\"not_found\",\"method_not_allowed\",\"overloaded\",\"backend\",\"unavailable\"]},\"code\":{\"type\":\"integer\"}}}}},"
    "\"TeiRequest\":{\"type\":\"object\",\"required\":[\"query\",\"texts\"],\"properties\":{"
    "\"query\":{\"type\":\"string\",\"description\":\"may be empty: scored as TEI does (the pair "
    "template with an empty first sequence)\"},\"texts\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"}},"
    "\"truncate\":{\"type\":\"boolean\",\"nullable\":true,\"description\":\"cut pairs longer than the max length; "
    "false: 413 instead; absent: server default (--auto-truncate)\"},"
    "\"truncation_direction\":{\"type\":\"string\",\"enum\":[\"Left\",\"Right\"],\"default\":\"Right\","
    "\"description\":\"which end of a too-long query or text loses tokens (any case); Left keeps the last "
    "tokens\"},"
    "\"instruction\":{\"type\":\"string\",\"description\":\"task instruction of an LLM reranker's prompt "
    "(Qwen3-Reranker; default: the server's --instruction, else the model card's); a cross-encoder answers 422\"},"
    "\"raw_scores\":{\"type\":\"boolean\",\"default\":false,\"description\":\"raw logits instead of sigmoid\"},"
    "\"return_text\":{\"type\":\"boolean\",\"default\":false}" RR_OPENAPI_LONG_DOCS "}},"
    "\"TeiRank\":{\"type\":\"object\",\"properties\":{\"index\":{\"type\":\"integer\"},\"score\":{\"type\":\"number\"},"
    "\"text\":{\"type\":\"string\"}" RR_OPENAPI_CHUNK "}},"
    "\"RerankRequest\":{\"type\":\"object\",\"required\":[\"query\",\"documents\"],\"properties\":{"
    "\"model\":{\"type\":\"string\",\"description\":\"a served model's name (GET /v1/models); absent: the "
    "first; unknown: 404\"},\"query\":{\"type\":\"string\",\"description\":\"may be empty: scored as TEI does (the pair "
    "template with an empty first sequence)\"},"
    "\"documents\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"object\","
    "\"required\":[\"text\"],\"properties\":{\"text\":{\"type\":\"string\"}}}]}},"
    "\"instruction\":{\"type\":\"string\",\"description\":\"task instruction of an LLM reranker's prompt "
    "(Qwen3-Reranker; default: the server's --instruction, else the model card's); a cross-encoder answers 422\"},"
    "\"top_n\":{\"type\":\"integer\",\"minimum\":1},\"return_documents\":{\"type\":\"boolean\",\"default\":false},"
    "\"raw_scores\":{\"type\":\"boolean\",\"default\":false},\"truncate\":{\"type\":\"boolean\"}" RR_OPENAPI_LONG_DOCS "}},"
    "\"RerankResponse\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"model\":{\"type\":\"string\"},"
    "\"results\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"index\":{\"type\":\"integer\"},"
    "\"relevance_score\":{\"type\":\"number\"},\"document\":{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}}}" RR_OPENAPI_CHUNK "}}},"
    "\"usage\":{\"type\":\"object\",\"properties\":{\"total_tokens\":{\"type\":\"integer\"}}},\"meta\":{\"type\":\"object\"}}}},"
    "\"responses\":{\"Error\":{\"description\":\"error\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Error\"}}}}}},"
    "\"security\":[{\"bearer\":[]}],"
    "\"paths\":{"
    "\"/rerank\":{\"post\":{\"summary\":\"Rerank texts (text-embeddings-inference API)\",\"requestBody\":{\"required\":true,"
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/TeiRequest\"}}}},\"responses\":{"
    "\"200\":{\"description\":\"ranks, best first\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"array\","
    "\"items\":{\"$ref\":\"#/components/schemas/TeiRank\"}}}}},"
    "\"400\":{\"$ref\":\"#/components/responses/Error\"},\"401\":{\"$ref\":\"#/components/responses/Error\"},"
    "\"413\":{\"$ref\":\"#/components/responses/Error\"},\"422\":{\"$ref\":\"#/components/responses/Error\"},"
    "\"429\":{\"$ref\":\"#/components/responses/Error\"},\"503\":{\"$ref\":\"#/components/responses/Error\"}}}},"
    "\"/v1/rerank\":{\"post\":{\"summary\":\"Rerank documents (Cohere v1 / Jina API)\",\"requestBody\":{\"required\":true,"
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/RerankRequest\"}}}},\"responses\":{"
    "\"200\":{\"description\":\"results, best first\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":"
    "\"#/components/schemas/RerankResponse\"}}}},\"default\":{\"$ref\":\"#/components/responses/Error\"}}}},"
    "\"/v2/rerank\":{\"post\":{\"summary\":\"Rerank documents (Cohere v2 API)\",\"requestBody\":{\"required\":true,"
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/RerankRequest\"}}}},\"responses\":{"
    "\"200\":{\"description\":\"results, best first\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":"
    "\"#/components/schemas/RerankResponse\"}}}},\"default\":{\"$ref\":\"#/components/responses/Error\"}}}},"
    "\"/health\":{\"get\":{\"summary\":\"200 once the model is loaded\",\"security\":[],\"responses\":{\"200\":{\"description\":\"ok\"},"
    "\"503\":{\"description\":\"loading\"}}}},"
    "\"/ready\":{\"get\":{\"summary\":\"200 while accepting work (503 loading or draining)\",\"security\":[],\"responses\":{"
    "\"200\":{\"description\":\"ready\"},\"503\":{\"description\":\"not ready\"}}}},"
    "\"/info\":{\"get\":{\"summary\":\"model, precision, limits, version\",\"responses\":{\"200\":{\"description\":\"info\"}}}},"
    "\"/metrics\":{\"get\":{\"summary\":\"Prometheus metrics\",\"security\":[],\"responses\":{\"200\":{\"description\":"
    "\"text exposition format\",\"content\":{\"text/plain\":{}}}}}},"
    "\"/v1/models\":{\"get\":{\"summary\":\"the served models (OpenAI-style list; the first is the default)\","
    "\"responses\":{\"200\":{\"description\":\"{object: list, data: [{id, object: model, ...}]}\"}}}},"
    "\"/openapi.json\":{\"get\":{\"summary\":\"this document\",\"responses\":{\"200\":{\"description\":\"OpenAPI 3\"}}}}}}";
