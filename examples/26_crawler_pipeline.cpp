// 26_crawler_pipeline: a crawler over local files; workers fetch, the main process parses (callback, as_completed).
//
// Seed lessons: 异步调用+回调机制 (asynchronous calls plus callbacks) in
// 002_eb024505f4b76b08.txt, section 5.1, whose classic example is a crawler,
// and 网络爬虫 (web crawlers) among the uses of process pools in
// 003_9b13542cec5b1b94.txt (應用場景). The Python original fetches web pages:
//
//   from multiprocessing import Pool
//   import requests, os
//
//   def get_page(url):                           # in a worker: the slow IO
//       print('<process %s> get %s' % (os.getpid(), url))
//       respone = requests.get(url)
//       if respone.status_code == 200:
//           return {'url': url, 'text': respone.text}
//
//   def parse_page(res):                         # in the main process: the callback
//       print('<process %s> parse %s' % (os.getpid(), res['url']))
//       parse_res = 'url:<%s> size:[%s]\n' % (res['url'], len(res['text']))
//       with open('db.txt', 'a') as f:
//           f.write(parse_res)
//
//   if __name__ == '__main__':
//       urls = ['https://www.baidu.com', 'https://www.python.org', ...]
//       p = Pool(3)
//       for url in urls:
//           p.apply_async(get_page, args=(url,), callback=parse_page)
//       p.close()
//       p.join()
//
// Here the "web" is a temporary directory of a few pages written first, so
// the example needs no network: "fetch" reads a file in a worker process,
// "parse" counts its words in the main process and appends a line to db.txt
// — only the main process writes db.txt, so no lock is needed. One URL names
// a page that does not exist: its fetch fails with FileNotFoundError, which
// error_callback records. Then the same crawl with a ProcessPoolExecutor,
// parsing each page in the main thread as as_completed() hands it over.
// The temporary directory is removed at the end.
//
// What to notice: the callbacks run in completion order, which varies, so
// db.txt's lines are sorted before printing; every parse ran in the main
// process (pids compared, not printed); both crawls count the same words.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <mpx/futures.hpp>
#include <mpx/mpx.hpp>
#include <mpx/pool.hpp>

namespace fs = std::filesystem;
namespace fut = mpx::futures;

namespace {

using Page = std::pair<std::string, std::string>;  // {url, text}: Python's {'url': url, 'text': text}

// The pages of the temporary "web": name, then the text.
const std::vector<Page> kSite = {
    {"index.html", "welcome to the tiny web of this example"},
    {"python.html", "python has a pool of processes and a pool of threads"},
    {"cpp.html", "c plus plus has no gil so threads run in parallel"},
    {"pool.html", "apply blocks apply async does not map keeps the order"},
    {"crawler.html", "fetch in the workers parse in the main process"},
};

// Fetch: runs in a worker process. The URL is a file path.
Page get_page(std::string url) {
  std::ifstream in(url);
  if (!in)
    throw mpx::FileNotFoundError(ENOENT, "No such file or directory: '" + fs::path(url).filename().string() + "'");
  return {url, std::string(std::istreambuf_iterator<char>(in), {})};
}

int count_words(const std::string& text) {
  std::istringstream words(text);
  return static_cast<int>(std::distance(std::istream_iterator<std::string>(words), {}));
}

// Parse: runs in the main process. Appends a line to db.txt.
struct Parser {
  Parser(fs::path db_path, int pid) : db(std::move(db_path)), main_pid(pid) {}
  fs::path db;
  int main_pid;
  std::mutex mu;  // the callbacks come one at a time, but main reads `parsed_elsewhere` too
  int parsed_elsewhere = 0;
  int words = 0;

  void parse_page(const Page& res) {
    std::scoped_lock hold(mu);
    if (::getpid() != main_pid) ++parsed_elsewhere;
    const int n = count_words(res.second);
    words += n;
    std::ofstream(db, std::ios::app) << "url:<" << fs::path(res.first).filename().string() << "> words:[" << n
                                     << "] size:[" << res.second.size() << "]\n";
  }
  void fetch_failed(const std::string& url, std::exception_ptr e) {
    std::scoped_lock hold(mu);
    try {
      std::rethrow_exception(e);
    } catch (const mpx::FileNotFoundError& err) {
      std::ofstream(db, std::ios::app) << "url:<" << fs::path(url).filename().string()
                                       << "> fetch failed: FileNotFoundError: " << err.what() << "\n";
    } catch (const std::exception& err) {
      std::ofstream(db, std::ios::app) << "url:<" << fs::path(url).filename().string()
                                       << "> fetch failed: " << err.what() << "\n";
    }
  }
};

fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "mpx-crawler-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const fs::path web = make_temp_dir();
  std::vector<std::string> urls;
  for (const auto& [name, text] : kSite) {
    std::ofstream(web / name) << text << "\n";
    urls.push_back((web / name).string());
  }
  urls.push_back((web / "missing.html").string());  // a dead link

  // 1. Pool + callbacks: fetch in the workers, parse in the main process.
  Parser parser(web / "db.txt", static_cast<int>(::getpid()));
  {
    mpx::Pool p(3);
    for (const auto& url : urls) {
      p.apply_async({.callback = [&parser](const Page& res) { parser.parse_page(res); },
                     .error_callback = [&parser, url](std::exception_ptr e) { parser.fetch_failed(url, e); }},
                    get_page, url);
    }
    p.close();
    p.join();
  }
  std::vector<std::string> lines;
  {
    std::ifstream in(parser.db);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::puts("db.txt, sorted:");
  for (const auto& line : lines) std::printf("  %s\n", line.c_str());
  std::printf("pages parsed: %zu, words: %d, parsed outside the main process: %d\n", lines.size() - 1, parser.words,
              parser.parsed_elsewhere);

  // 2. ProcessPoolExecutor + as_completed: the main thread parses each page
  // as soon as its fetch is done, in whatever order they finish.
  int words = 0, failed = 0;
  std::vector<std::string> order;
  {
    fut::ProcessPoolExecutor executor(3);
    std::vector<fut::Future<Page>> futures;
    for (const auto& url : urls) futures.push_back(executor.submit(get_page, url));
    for (fut::Future<Page> f : fut::as_completed(futures)) {
      try {
        const Page& page = f.result();
        words += count_words(page.second);
        order.push_back(fs::path(page.first).filename().string());
      } catch (const mpx::FileNotFoundError&) {
        ++failed;
      }
    }
  }
  std::sort(order.begin(), order.end());
  std::string names;
  for (const auto& n : order) names += " " + n;
  std::printf("as_completed crawl: parsed%s; %d failed; words: %d (the same: %s)\n", names.c_str(), failed, words,
              words == parser.words ? "yes" : "no");

  std::error_code ec;
  fs::remove_all(web, ec);
  std::printf("temporary directory removed: %s\n", !ec && !fs::exists(web) ? "yes" : "no");
  return 0;
}
