import re
import unittest

from pyramid import testing


def count_on(page_text):
    """The number a page shows after 'Count:'; one per page, or fail."""
    counts = re.findall(r'Count: (\d+)', page_text)
    assert len(counts) == 1, 'expected one count on the page: %r' % counts
    return int(counts[0])


class TutorialViewTests(unittest.TestCase):
    def setUp(self):
        self.config = testing.setUp()

    def tearDown(self):
        testing.tearDown()

    def test_home(self):
        from .views import TutorialViews

        request = testing.DummyRequest()
        inst = TutorialViews(request)
        response = inst.home()
        self.assertEqual('Home View', response['name'])

    def test_hello(self):
        from .views import TutorialViews

        request = testing.DummyRequest()
        inst = TutorialViews(request)
        response = inst.hello()
        self.assertEqual('Hello View', response['name'])

    def test_counter_starts_at_one_and_counts_in_the_session(self):
        from .views import TutorialViews

        request = testing.DummyRequest()
        inst = TutorialViews(request)
        self.assertEqual(1, inst.counter)
        self.assertEqual(2, inst.counter)
        self.assertEqual(2, request.session['counter'])

    def test_counter_goes_on_from_the_value_in_the_session(self):
        from .views import TutorialViews

        request = testing.DummyRequest()
        request.session['counter'] = 41
        self.assertEqual(42, TutorialViews(request).counter)


class TutorialFunctionalTests(unittest.TestCase):
    def setUp(self):
        from tutorial import main
        app = main({})
        from webtest import TestApp

        self.testapp = TestApp(app)

    def test_home(self):
        res = self.testapp.get('/', status=200)
        self.assertIn(b'<h1>Hi Home View', res.body)
        self.assertIn(b'<title>Quick Tutorial: Home View</title>', res.body)

    def test_hello(self):
        res = self.testapp.get('/howdy', status=200)
        self.assertIn(b'<h1>Hi Hello View', res.body)

    def test_counter_rises_by_one_on_each_request(self):
        counts = [count_on(self.testapp.get('/').text) for _ in range(3)]
        self.assertEqual([1, 2, 3], counts)

    def test_counter_is_shared_between_pages(self):
        counts = [count_on(self.testapp.get(path).text)
                  for path in ('/', '/howdy', '/', '/howdy')]
        self.assertEqual([1, 2, 3, 4], counts)

    def test_each_visitor_has_a_counter_of_their_own(self):
        from webtest import TestApp

        self.testapp.get('/')
        self.testapp.get('/')
        other = TestApp(self.testapp.app)
        self.assertEqual(1, count_on(other.get('/howdy').text))
        self.assertEqual(3, count_on(self.testapp.get('/howdy').text))

    def test_counter_goes_on_after_a_restart(self):
        from tutorial import main
        from webtest import TestApp

        self.testapp.get('/')
        self.testapp.get('/howdy')
        restarted = TestApp(main({}))
        restarted.set_cookie('session', self.testapp.cookies['session'])
        self.assertEqual(3, count_on(restarted.get('/').text))

    def test_cookie_with_a_bad_signature_starts_again(self):
        self.testapp.get('/')
        self.testapp.get('/')
        cookie = self.testapp.cookies['session']
        forged = ('A' if cookie[0] != 'A' else 'B') + cookie[1:]
        self.testapp.set_cookie('session', forged)
        self.assertEqual(1, count_on(self.testapp.get('/', status=200).text))

    def test_cookie_signed_with_another_secret_starts_again(self):
        from tutorial import main
        from webtest import TestApp

        other = TestApp(main({}, **{'tutorial.session_secret': 'another'}))
        other.get('/')
        other.get('/')
        self.testapp.set_cookie('session', other.cookies['session'])
        self.assertEqual(1, count_on(self.testapp.get('/', status=200).text))

    def test_session_cookie_is_hidden_from_scripts_and_other_sites(self):
        res = self.testapp.get('/')
        cookie = res.headers['Set-Cookie']
        self.assertTrue(cookie.startswith('session='))
        self.assertIn('; HttpOnly', cookie)
        self.assertIn('; SameSite=Lax', cookie)
        # development runs on plain http://localhost: not Secure there
        self.assertNotIn('; secure', cookie.lower())
