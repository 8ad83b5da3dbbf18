"""Recommendations: "customers also bought" suggestions from order history."""


def main() -> None:
    print("recommendations: listening on :50051")


if __name__ == "__main__":
    main()
